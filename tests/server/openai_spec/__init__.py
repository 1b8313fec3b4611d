"""OpenAI's published schemas of the objects potcot returns and of the requests it serves
(``schemas.json``: an extract of openai/openai-openapi, PROVENANCE.md says which), the check that a
body matches one, and the fields a request schema defines.

The extract is kept verbatim. Two things are read into it here, both written down in PROVENANCE.md:

* ``nullable: true``, OpenAPI 3.0's keyword that some schemas of the 3.1 document still use and that
  JSON Schema 2020-12 ignores, means what it says: null is allowed too (the chunks' ``finish_reason``,
  ``logprobs`` and ``usage``). Left ignored, the document would forbid what OpenAI's own streams send.
* ``ERRATA``: where the document's one object stands for two shapes, the shape OpenAI's API really
  returns, asked for by name by the tests that need it, never applied silently.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

_DOCUMENT = json.loads((Path(__file__).with_name("schemas.json")).read_text())
SCHEMAS: dict[str, Any] = _DOCUMENT["components"]["schemas"]
VERSION: str = _DOCUMENT["info"]["version"]


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _read_nullable(node: Any) -> Any:
    """Every ``nullable: true`` as JSON Schema says it: the schema, or null."""
    if isinstance(node, list):
        return [_read_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    read = {key: _read_nullable(value) for key, value in node.items() if key != "nullable"}
    return _or_null(read) if node.get("nullable") is True else read


def _completion_choice(schemas: dict[str, Any]) -> dict[str, Any]:
    return schemas["CreateCompletionResponse"]["properties"]["choices"]["items"]["properties"]


def _streamed_completion(schemas: dict[str, Any]) -> None:
    """Streamed text completions are CreateCompletionResponse objects (the document says so), whose
    ``finish_reason`` is null until a choice's last chunk, as in chat chunks; the document's object
    describes only a whole response, where it is never null."""
    choice = _completion_choice(schemas)
    choice["finish_reason"] = _or_null(choice["finish_reason"])


def _echo(schemas: dict[str, Any]) -> None:
    """With ``echo``, the first token of the prompt has no log-probability (nothing comes before it):
    OpenAI's API, and vLLM's, give null for it in ``token_logprobs`` and ``top_logprobs``."""
    logprobs = _completion_choice(schemas)["logprobs"]["anyOf"][0]["properties"]
    for field in ("token_logprobs", "top_logprobs"):
        logprobs[field]["items"] = _or_null(logprobs[field]["items"])


ERRATA: dict[str, Callable[[dict[str, Any]], None]] = {"streamed": _streamed_completion, "echo": _echo}


@functools.cache
def validator(name: str, *errata: str) -> Draft202012Validator:
    """A JSON Schema 2020-12 validator (the dialect of OpenAPI 3.1) for the schema ``name``; made
    once per schema and errata, since the tests check hundreds of bodies."""
    schemas = _read_nullable(copy.deepcopy(SCHEMAS))
    for erratum in errata:
        ERRATA[erratum](schemas)
    document = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": schemas}}
    Draft202012Validator.check_schema(document)
    return Draft202012Validator(document)


def assert_valid(body: object, name: str, *errata: str) -> None:
    """Fail with every place where ``body`` breaks OpenAI's schema ``name``."""
    problems = sorted(validator(name, *errata).iter_errors(body), key=lambda error: list(error.absolute_path))
    assert not problems, f"not a valid {name} (OpenAI {VERSION}):\n" + "\n".join(
        f"  {'/'.join(map(str, problem.absolute_path)) or '(root)'}: {problem.message[:300]}" for problem in problems
    )


def request_fields(name: str) -> set[str]:
    """Every field the request schema ``name`` defines, its ``allOf`` parts' and references' included."""
    schema = SCHEMAS[name]
    fields = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        if "$ref" in part:
            fields |= request_fields(part["$ref"].rsplit("/", 1)[-1])
        fields |= set(part.get("properties", {}))
    return fields
