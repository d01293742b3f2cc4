"""A small OpenAI-compatible chat-completions server for tests, on loopback.

It speaks ``POST /v1/chat/completions`` as vLLM, llama.cpp or Ollama do: plain
JSON replies, SSE streaming (``"stream": true``, with a usage chunk when
``stream_options.include_usage`` is set), tool calls, usage counts, and errors
with OpenAI's error body. Replies come from a script; every request body is
recorded.

Use it through the ``openai_server`` fixture (``tests/conftest.py``)::

    def test_something(openai_server: OpenAIServer) -> None:
        openai_server.reply("Hello!")
        openai_server.reply(tool_calls=[{"name": "lookup", "arguments": {"q": "x"}}])
        openai_server.fail(429, times=1)  # the next request gets a 429 first
        model = ChatOpenAI(base_url=openai_server.base_url, api_key="test", model="gpt-4o")
        ...
        openai_server.requests[-1]["messages"]  # what the client sent

When the script is empty it answers ``"ok"``. A reply may also be a function of
the request body, for replies that depend on what was asked.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

DEFAULT_USAGE = {"prompt_tokens": 17, "completion_tokens": 5, "total_tokens": 22}


@dataclass
class Reply:
    """One scripted answer: text, tool calls, or an HTTP error."""

    content: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] | None = None
    status: int = 200
    error: str = ""
    finish_reason: str | None = None

    def tool_call_dicts(self) -> list[dict[str, Any]]:
        calls = []
        for index, call in enumerate(self.tool_calls):
            arguments = call.get("arguments", {})
            calls.append(
                {
                    "id": call.get("id", f"call_{index}"),
                    "type": "function",
                    "function": {
                        "name": call["name"],
                        "arguments": arguments
                        if isinstance(arguments, str)
                        else json.dumps(arguments),
                    },
                }
            )
        return calls


Responder = Callable[[dict[str, Any]], Reply]


class OpenAIServer:
    """The scripted server's state: the script and the requests it received."""

    def __init__(self) -> None:
        self.base_url = ""
        self.requests: list[dict[str, Any]] = []
        self._script: list[Reply | Responder] = []
        self._lock = threading.Lock()
        self._counter = 0

    # -------------------------------------------------------------- scripting

    def reply(
        self,
        content: str | None = None,
        *,
        tool_calls: list[dict[str, Any]] | None = None,
        usage: dict[str, int] | None = None,
    ) -> None:
        """Queue a reply: text, or tool calls (``{"name", "arguments", "id"?}``), or both."""
        with self._lock:
            self._script.append(Reply(content=content, tool_calls=tool_calls or [], usage=usage))

    def respond(self, responder: Responder) -> None:
        """Queue a reply computed from the request body."""
        with self._lock:
            self._script.append(responder)

    def fail(self, status: int, message: str = "", *, times: int = 1) -> None:
        """Queue ``times`` error responses with this status, each with a 10 ms retry-after."""
        text = message or {429: "Rate limit reached", 500: "The server had an error"}.get(
            status, "error"
        )
        with self._lock:
            self._script.extend(Reply(status=status, error=text) for _ in range(times))

    def reset(self) -> None:
        """Forget the script and the recorded requests."""
        with self._lock:
            self._script.clear()
            self.requests.clear()

    @property
    def pending(self) -> int:
        """How many scripted replies have not been used."""
        return len(self._script)

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            self._counter += 1
            step = self._script.pop(0) if self._script else Reply(content="ok")
        return step(body) if callable(step) else step

    # ------------------------------------------------------------------- HTTP

    def app(self) -> Starlette:
        """The ASGI application."""
        return Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        reply = self._next(body)
        if reply.status != 200:
            kind = "rate_limit_exceeded" if reply.status == 429 else "server_error"
            return JSONResponse(
                {"error": {"message": reply.error, "type": kind, "param": None, "code": kind}},
                status_code=reply.status,
                # A short retry-after keeps the client's retries (and the tests) fast.
                headers={"retry-after-ms": "10"},
            )
        completion_id = f"chatcmpl-{self._counter}"
        model = body.get("model", "gpt-4o")
        usage = reply.usage or DEFAULT_USAGE
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = _stream_events(reply, completion_id, model, finish, usage, include_usage)
            return StreamingResponse(events, media_type="text/event-stream")
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            message["tool_calls"] = reply.tool_call_dicts()
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
                ],
                "usage": usage,
            }
        )


def _chunk(completion_id: str, model: str, delta: dict[str, Any], **extra: Any) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": extra.pop("finish_reason", None)}
    payload = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        **extra,
    }
    return f"data: {json.dumps(payload)}\n\n"


async def _stream_events(
    reply: Reply,
    completion_id: str,
    model: str,
    finish: str,
    usage: dict[str, int],
    include_usage: bool,
) -> AsyncIterator[str]:
    yield _chunk(completion_id, model, {"role": "assistant", "content": ""})
    text = reply.content or ""
    # Word by word, spaces kept, so that the chunks join back to the text.
    pieces = [word + " " for word in text.split(" ")]
    if pieces:
        pieces[-1] = pieces[-1][:-1]
    for piece in (p for p in pieces if p):
        yield _chunk(completion_id, model, {"content": piece})
        await asyncio.sleep(0)
    for index, call in enumerate(reply.tool_call_dicts()):
        arguments = call["function"]["arguments"]
        head = {**call, "index": index, "function": {"name": call["function"]["name"]}}
        head["function"]["arguments"] = ""
        yield _chunk(completion_id, model, {"tool_calls": [head]})
        for start in range(0, len(arguments), 8):
            part = {"index": index, "function": {"arguments": arguments[start : start + 8]}}
            yield _chunk(completion_id, model, {"tool_calls": [part]})
    yield _chunk(completion_id, model, {}, finish_reason=finish)
    if include_usage:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [],
            "usage": usage,
        }
        yield f"data: {json.dumps(payload)}\n\n"
    yield "data: [DONE]\n\n"


@contextmanager
def serve(server: OpenAIServer, *, start_timeout: float = 10.0) -> Iterator[OpenAIServer]:
    """Run the server with uvicorn on a free loopback port, in a thread, until the block ends."""
    config = uvicorn.Config(
        server.app(),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        loop="asyncio",
        ws="none",
    )
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, name="openai-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not runner.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test OpenAI server did not start")
        time.sleep(0.01)
    port = runner.servers[0].sockets[0].getsockname()[1]
    server.base_url = f"http://127.0.0.1:{port}/v1"
    try:
        yield server
    finally:
        runner.should_exit = True
        thread.join(timeout=start_timeout)
