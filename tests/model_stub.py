"""A scripted OpenAI-compatible model on 127.0.0.1: /v1/chat/completions, streaming or not.

Agent CLIs and the LLM proposer talk to it exactly as to a hosted model; each request pops the
next scripted answer (text, or a callable of the request that returns text).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

# Text, a tool call request ({"tool_calls": [{"name": ..., "arguments": {...}}]}), or a callable of
# the request body that returns either.
Answer = str | dict[str, Any] | Callable[[dict[str, Any]], Any]


class StubModel:
    """Serves scripted answers; records every request body. Use as a context manager."""

    def __init__(self, answers: list[Answer] | None = None, chunk_chars: int = 40,
                 prompt_tokens: int = 1000, completion_tokens: int = 200,
                 chunk_delay_s: float = 0.0) -> None:
        self.answers: list[Answer] = list(answers or [])
        self.requests: list[dict[str, Any]] = []
        self.chunk_chars = chunk_chars
        self.chunk_delay_s = chunk_delay_s  # a slow model: the pause before each streamed chunk
        self.usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # some clients list the models first
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [
                        {"id": "test-model", "object": "model", "created": 0, "owned_by": "stub"}]})
                else:
                    self._json(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                with stub.lock:
                    stub.requests.append(body)
                    answer = stub.answers.pop(0) if stub.answers else None
                if answer is None:
                    self._json(500, {"error": {"message": "the stub model has no answer left"}})
                    return
                text = answer(body) if callable(answer) else answer
                if isinstance(text, dict):
                    self._tools(body, text["tool_calls"])
                elif body.get("stream"):
                    self._stream(body, text)
                else:  # a slow model answers whole only once it has generated every chunk
                    time.sleep(stub.chunk_delay_s * (len(text) // stub.chunk_chars + 3))
                    with contextlib.suppress(OSError):  # the client gave up waiting
                        self._json(200, stub.completion(body, text))

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _tools(self, body: dict[str, Any], calls: list[dict[str, Any]]) -> None:
                """The model asks for tool calls (an agent's edit and write tools)."""
                listed = [{"id": f"call_{i}", "type": "function",
                           "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
                          for i, c in enumerate(calls)]
                model = body.get("model", "test-model")
                if not body.get("stream"):
                    reply = stub.completion(body, "")
                    reply["choices"][0].update(finish_reason="tool_calls",
                                               message={"role": "assistant", "content": None,
                                                        "tool_calls": listed})
                    self._json(200, reply)
                    return
                deltas = [{"role": "assistant", "content": None,
                           "tool_calls": [{"index": i, **call} for i, call in enumerate(listed)]}]
                events = [stub.chunk(model, d, None) for d in deltas]
                events.append({**stub.chunk(model, {}, "tool_calls"), "usage": stub.usage})
                self._events(events)

            def _events(self, events: list[dict[str, Any]]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for event in events:
                        time.sleep(stub.chunk_delay_s)
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except OSError:
                    pass  # the client went away
                self.close_connection = True

            def _stream(self, body: dict[str, Any], text: str) -> None:
                model = body.get("model", "test-model")
                pieces = [text[i:i + stub.chunk_chars] for i in range(0, len(text), stub.chunk_chars)]
                events = [stub.chunk(model, {"role": "assistant", "content": ""}, None)]
                events += [stub.chunk(model, {"content": p}, None) for p in pieces]
                last = stub.chunk(model, {}, "stop")
                if (body.get("stream_options") or {}).get("include_usage"):
                    events += [last, {**stub.chunk(model, {}, None), "choices": [], "usage": stub.usage}]
                else:
                    events.append({**last, "usage": stub.usage})
                self._events(events)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def completion(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        return {"id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", "test-model"),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": self.usage}

    @staticmethod
    def chunk(model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
