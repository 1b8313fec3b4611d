"""Make ``schemas.json``: the schemas of the objects potcot returns, and every schema they refer to,
copied verbatim from OpenAI's published OpenAPI document (openai/openai-openapi). Run once per pinned
version, by hand; the tests read the file it writes, never the network:

    .venv/bin/python -m tests.server.openai_spec.extract path/to/openapi.yaml

PROVENANCE.md says which version the file holds and how it was made.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

# The objects potcot's OpenAI-compatible endpoints return (streamed text completions are
# CreateCompletionResponse objects too: OpenAI has no schema of their own for them), and the two
# request bodies, whose fields the tests hold against what potcot serves, refuses or ignores.
ROOTS = (
    "CreateChatCompletionResponse",
    "CreateChatCompletionStreamResponse",
    "CreateCompletionResponse",
    "ListModelsResponse",
    "Model",
    "ErrorResponse",
    "CreateChatCompletionRequest",
    "CreateCompletionRequest",
)
OUT = Path(__file__).with_name("schemas.json")


def references(node: object) -> set[str]:
    """The component schemas a node refers to (``#/components/schemas/NAME``)."""
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(references(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(references(value) for value in node))
    return set()


def closure(schemas: dict[str, Any], roots: tuple[str, ...]) -> dict[str, Any]:
    """The roots and every schema reachable from them, in the document's order."""
    wanted: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name not in wanted:
            wanted.add(name)
            pending.extend(references(schemas[name]))
    return {name: schema for name, schema in schemas.items() if name in wanted}


def extract(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": document["openapi"],
        "info": {key: document["info"][key] for key in ("title", "version", "license")},
        "components": {"schemas": closure(document["components"]["schemas"], ROOTS)},
    }


def main(spec: str) -> None:
    document = yaml.safe_load(Path(spec).read_text())
    OUT.write_text(json.dumps(extract(document), indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
