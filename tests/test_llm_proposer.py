"""The LLM proposer against the real openai SDK, talking to a real local HTTP server or a mock transport."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import Repo

from autoresearch.errors import EditError
from autoresearch.proposers.base import Brief
from autoresearch.proposers.llm import LLMProposer, apply_edits, parse_edits

try:  # openai 3.x talks through httpx2; older SDKs through httpx
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]

GIT_ENV = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com"}

WORK_PY = """\
COST = 100


def answer():
    return 42
"""

GOOD = """\
DESCRIPTION: lower the cost constant
HYPOTHESIS: a smaller COST makes the benchmark report less

work.py
<<<<<<< SEARCH
COST = 100
=======
COST = 50
>>>>>>> REPLACE
"""


def git(path: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=path, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    git(ws, "init", "-q", "-b", "main")
    (ws / "work.py").write_text(WORK_PY)
    (ws / "bench.sh").write_text("#!/bin/sh\necho METRIC t=1\n")
    (ws / "docs").mkdir()
    (ws / "docs" / "notes.md").write_text("notes\n")
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "init")
    return ws


def project_changes(ws: Path) -> str:
    """`git status` of the project files; the proposer's own transcript folder does not count."""
    lines = git(ws, "status", "--porcelain", "--untracked-files=all").splitlines()
    return "\n".join(line for line in lines if ".autoresearch/" not in line)


def brief(scope: list[str] | None = None, protected: list[str] | None = None) -> Brief:
    text = ("# Research brief\nMake t lower.\n"
            "- When done, write a short description on the first line of `{proposal_file}`.\n")
    return Brief(text=text, metric="t", direction="lower",
                 scope=["work.py"] if scope is None else scope,
                 protected=["bench.sh"] if protected is None else protected, run=1)


def completion(content: str, prompt_tokens: int = 1000, completion_tokens: int = 200) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "test-model",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


class FakeServer:
    """A real HTTP server on 127.0.0.1 answering /v1/chat/completions with queued replies."""

    def __init__(self) -> None:
        self.replies: list[Any] = []  # a dict (JSON body), an int (error status) or ("sleep", s)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                server.headers.append({k.lower(): v for k, v in self.headers.items()})
                reply = server.replies.pop(0) if server.replies else 500
                if isinstance(reply, tuple):
                    time.sleep(reply[1])
                    reply = completion(GOOD)
                if self.path != "/v1/chat/completions":
                    reply = 404
                if isinstance(reply, dict) and body.get("stream"):
                    self._send(200, "text/event-stream", self._events(reply))
                    return
                if isinstance(reply, int):
                    status, payload = reply, {"error": {"message": "boom"}}
                else:
                    status, payload = 200, reply
                self._send(status, "application/json", json.dumps(payload).encode())

            def _send(self, status: int, content_type: str, data: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout test)

            def _events(self, reply: dict[str, Any]) -> bytes:
                """The same answer as server-sent chunks, usage last (as `include_usage` asks)."""
                choice = reply["choices"][0] if reply.get("choices") else None
                text = choice["message"]["content"] if choice else ""
                base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "m"}
                events = [{**base, "choices": [{"index": 0, "delta": {"content": text[i:i + 50]},
                                                "finish_reason": None}]} for i in range(0, len(text), 50)]
                if choice:
                    events.append({**base, "choices": [{"index": 0, "delta": {},
                                                        "finish_reason": choice["finish_reason"]}]})
                if reply.get("usage"):
                    events.append({**base, "choices": [], "usage": reply["usage"]})
                return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    def client(self, **kwargs: Any) -> openai.OpenAI:
        """A real SDK client without retries, so error tests stay fast."""
        return openai.OpenAI(base_url=self.url, api_key="test-key", max_retries=0, **kwargs)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    s = FakeServer()
    yield s
    s.close()


def test_well_formed_answer_edits_and_reports(workspace: Path, server: FakeServer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    server.replies = [completion(GOOD, 1000, 200)]
    monkeypatch.setenv("MY_LLM_KEY", "sekret")
    proposer = LLMProposer("test-model", base_url=server.url, api_key_env="MY_LLM_KEY",
                           price_in_per_mtok=3.0, price_out_per_mtok=15.0, timeout_s=10)
    assert proposer.name == "llm:test-model"
    p = proposer.propose(workspace, brief())
    assert p is not None and p.failed is None
    assert (workspace / "work.py").read_text() == WORK_PY.replace("COST = 100", "COST = 50")
    assert p.description == "lower the cost constant"
    assert p.hypothesis == "a smaller COST makes the benchmark report less"
    assert p.tokens == {"input": 1000, "output": 200}
    assert p.cost_usd == pytest.approx(1000 * 3.0 / 1e6 + 200 * 15.0 / 1e6)
    assert p.transcript is not None and p.transcript.name == "run-0001-llm.md"
    assert p.transcript.parent == workspace / ".autoresearch" / "proposals"
    assert "COST = 50" in p.transcript.read_text()
    # The request: the model, the brief, the file in scope (and only it), the format, the key.
    request = server.requests[0]
    assert request["model"] == "test-model"
    prompt = request["messages"][-1]["content"]
    assert "Make t lower." in prompt and "def answer():" in prompt and "<<<<<<< SEARCH" in prompt
    assert "notes" not in prompt.split("## How to answer")[0]  # docs/notes.md is out of scope
    assert server.headers[0]["authorization"] == "Bearer sekret"


def test_malformed_answer_is_retried_with_the_error(workspace: Path, server: FakeServer) -> None:
    server.replies = [completion("I would lower COST.", 500, 10), completion(GOOD, 700, 100)]
    p = LLMProposer("m", client=server.client(), price_in_per_mtok=1.0).propose(workspace, brief())
    assert p is not None and p.failed is None
    assert "COST = 50" in (workspace / "work.py").read_text()
    assert p.tokens == {"input": 1200, "output": 110}
    assert p.cost_usd == pytest.approx(1200 / 1e6)
    retry = server.requests[1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": "I would lower COST."}
    assert "no SEARCH/REPLACE blocks" in retry[-1]["content"]


def test_two_malformed_answers_fail_and_leave_the_workspace_alone(workspace: Path,
                                                                   server: FakeServer) -> None:
    bad = GOOD.replace("COST = 100\n=======", "COST = 999\n=======")  # SEARCH text not in the file
    server.replies = [completion(bad), completion(bad)]
    p = LLMProposer("m", client=server.client()).propose(workspace, brief())
    assert p is not None and p.failed and "not found in work.py" in p.failed
    assert p.description == "lower the cost constant"
    assert project_changes(workspace) == ""
    assert len(server.requests) == 2  # exactly one retry
    assert p.transcript is not None and p.transcript.exists()


def test_partial_match_writes_nothing(workspace: Path, server: FakeServer) -> None:
    partial = GOOD + "\nwork.py\n<<<<<<< SEARCH\n    return 41\n=======\n    return 43\n>>>>>>> REPLACE\n"
    server.replies = [completion(partial), completion(partial)]
    p = LLMProposer("m", client=server.client()).propose(workspace, brief())
    assert p is not None and p.failed and "block 2" in p.failed
    assert (workspace / "work.py").read_text() == WORK_PY  # block 1 matched but was not written
    assert project_changes(workspace) == ""


@pytest.mark.parametrize("path, reason", [("bench.sh", "protected"), ("docs/notes.md", "out of scope"),
                                          ("../escape.py", "outside the repository"),
                                          (".git/config", "may not be edited")])
def test_forbidden_paths_are_refused(workspace: Path, server: FakeServer, path: str, reason: str) -> None:
    answer = f"DESCRIPTION: sneaky\n\n{path}\n<<<<<<< SEARCH\n=======\nhello\n>>>>>>> REPLACE\n"
    server.replies = [completion(GOOD + "\n" + answer), completion(answer)]
    p = LLMProposer("m", client=server.client()).propose(workspace, brief(scope=["work.py", "bench.sh"]))
    assert p is not None and p.failed and reason in p.failed
    assert (workspace / "work.py").read_text() == WORK_PY  # the allowed block went unwritten too
    assert project_changes(workspace) == ""
    assert not (workspace.parent / "escape.py").exists()


def test_empty_search_creates_a_file_in_scope(workspace: Path, server: FakeServer) -> None:
    answer = ("DESCRIPTION: add a cache module\nHYPOTHESIS: caching avoids recomputation\n\n"
              "```python\nsrc/cache.py\n<<<<<<< SEARCH\n=======\nCACHE = {}\n>>>>>>> REPLACE\n```\n")
    server.replies = [completion(answer)]
    p = LLMProposer("m", client=server.client()).propose(workspace, brief(scope=["work.py", "src/**"]))
    assert p is not None and p.failed is None
    assert (workspace / "src" / "cache.py").read_text() == "CACHE = {}\n"
    assert p.description == "add a cache module"


def test_server_error_is_a_failed_proposal(workspace: Path, server: FakeServer) -> None:
    server.replies = [500]
    p = LLMProposer("m", client=server.client()).propose(workspace, brief())
    assert p is not None and p.failed and "500" in p.failed
    assert project_changes(workspace) == ""


def test_unauthorized_is_a_failed_proposal(workspace: Path, server: FakeServer) -> None:
    server.replies = [401]
    p = LLMProposer("m", client=server.client()).propose(workspace, brief())
    assert p is not None and p.failed and "401" in p.failed


def test_connection_refused_is_a_failed_proposal(workspace: Path) -> None:
    with socket.socket() as s:  # a port that was free a moment ago and has no listener now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0)
    p = LLMProposer("m", client=client).propose(workspace, brief())
    assert p is not None and p.failed and "APIConnectionError" in p.failed


def test_timeout_is_a_failed_proposal(workspace: Path, server: FakeServer) -> None:
    server.replies = [("sleep", 0.6)]
    p = LLMProposer("m", client=server.client(timeout=0.2)).propose(workspace, brief())
    assert p is not None and p.failed and "Timeout" in p.failed
    assert project_changes(workspace) == ""


def test_missing_openai_key_fails_without_a_request(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    p = LLMProposer("gpt-x").propose(workspace, brief())
    assert p is not None and p.failed and "OPENAI_API_KEY" in p.failed


def test_context_is_bounded_and_names_what_was_left_out(workspace: Path, server: FakeServer) -> None:
    (workspace / "big.py").write_text("X = 1\n" * 20_000)  # 120 000 characters
    (workspace / "small.py").write_text("Y = 2\n")
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "more")
    server.replies = [completion(GOOD)]
    proposer = LLMProposer("m", client=server.client(), max_context_chars=5_000)
    p = proposer.propose(workspace, brief(scope=[]))  # open scope: every tracked text file
    assert p is not None and p.failed is None
    prompt = server.requests[0]["messages"][-1]["content"]
    assert len(prompt) < 10_000
    assert "Left out" in prompt and "big.py" in prompt
    assert "Y = 2" in prompt and "def answer():" in prompt  # smaller files after the huge one still fit
    assert "bench.sh  (protected: read only)" in prompt
    assert "{proposal_file}" not in prompt  # the agent-CLI report request does not apply here


def test_mock_transport_client(workspace: Path) -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=completion(GOOD, 10, 5))

    client = openai.OpenAI(base_url="http://llm.invalid/v1", api_key="k",
                           http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    p = LLMProposer("m", client=client, stream=False).propose(workspace, brief())
    assert p is not None and p.failed is None and p.tokens == {"input": 10, "output": 5}
    assert seen[0]["model"] == "m"


# The edit format itself, without a model.

def test_trailing_whitespace_is_the_only_fuzz(workspace: Path) -> None:
    edits = parse_edits("work.py\n<<<<<<< SEARCH\nCOST = 100   \n=======\nCOST = 1\n>>>>>>> REPLACE\n")
    assert apply_edits(workspace, edits, ["work.py"], []) == ["work.py"]
    assert (workspace / "work.py").read_text().startswith("COST = 1\n")
    indented = parse_edits("work.py\n<<<<<<< SEARCH\nreturn 42\n=======\nreturn 0\n>>>>>>> REPLACE\n")
    with pytest.raises(EditError, match="not found"):
        apply_edits(workspace, indented, ["work.py"], [])


def test_ambiguous_search_is_refused(workspace: Path) -> None:
    (workspace / "work.py").write_text("x = 1\nx = 1\n")
    edits = parse_edits("work.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n")
    with pytest.raises(EditError, match="2 times"):
        apply_edits(workspace, edits, [], [])


def test_unparsable_blocks() -> None:
    with pytest.raises(EditError, match="no >>>>>>> REPLACE"):
        parse_edits("a.py\n<<<<<<< SEARCH\nx\n=======\ny\n")
    with pytest.raises(EditError, match="no file path"):
        parse_edits("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n")
    with pytest.raises(EditError, match="no ======= divider"):
        parse_edits("a.py\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n")


def test_importing_the_module_does_not_import_openai() -> None:
    code = "import sys, autoresearch.proposers.llm; print('openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_write_error_undoes_earlier_writes(workspace: Path) -> None:
    # The second block's parent directory would have to be the file work.py: mkdir fails mid-way.
    edits = parse_edits("work.py\n<<<<<<< SEARCH\nCOST = 100\n=======\nCOST = 1\n>>>>>>> REPLACE\n\n"
                        "work.py/sub.py\n<<<<<<< SEARCH\n=======\nx = 1\n>>>>>>> REPLACE\n")
    with pytest.raises(OSError):
        apply_edits(workspace, edits, [], [])
    assert (workspace / "work.py").read_text() == WORK_PY


def test_sparse_replies_from_local_servers(workspace: Path, server: FakeServer) -> None:
    empty = completion("")
    empty["choices"] = []
    del empty["usage"]
    good = completion(GOOD)
    del good["usage"]
    server.replies = [empty, good]
    p = LLMProposer("m", client=server.client()).propose(workspace, brief())
    assert p is not None and p.failed is None and p.tokens == {"input": 0, "output": 0}
    assert "the answer was empty" in server.requests[1]["messages"][-1]["content"]


def test_crlf_files_keep_their_line_endings(workspace: Path) -> None:
    (workspace / "win.py").write_bytes(b"a = 1\r\nb = 2\r\n")
    edits = parse_edits("win.py\n<<<<<<< SEARCH\na = 1\n=======\na = 10\na2 = 3\n>>>>>>> REPLACE\n")
    apply_edits(workspace, edits, [], [])
    assert (workspace / "win.py").read_bytes() == b"a = 10\r\na2 = 3\r\nb = 2\r\n"


# Streaming, and the request timeout.

def test_answers_are_streamed_with_usage(workspace: Path, server: FakeServer) -> None:
    server.replies = [completion(GOOD, 900, 120)]
    p = LLMProposer("m", client=server.client()).propose(workspace, brief())
    assert p is not None and p.failed is None and p.tokens == {"input": 900, "output": 120}
    assert server.requests[0]["stream"] is True
    assert server.requests[0]["stream_options"] == {"include_usage": True}
    assert "COST = 50" in (workspace / "work.py").read_text()


def test_streaming_can_be_turned_off(workspace: Path, server: FakeServer) -> None:
    server.replies = [completion(GOOD, 10, 5)]
    p = LLMProposer("m", client=server.client(), stream=False).propose(workspace, brief())
    assert p is not None and p.failed is None and p.tokens == {"input": 10, "output": 5}
    assert "stream" not in server.requests[0]


def test_a_slow_answer_streams_past_the_timeout_that_cuts_it_whole(workspace: Path) -> None:
    from model_stub import StubModel

    def client() -> openai.OpenAI:
        return openai.OpenAI(base_url=model.url, api_key="k", timeout=1, max_retries=0)

    # 25 chunks, 0.1 s apart: 2.5 s in all, while no gap between two chunks comes near 1 s.
    with StubModel([GOOD, GOOD], chunk_chars=8, chunk_delay_s=0.1) as model:
        whole = LLMProposer("m", client=client(), stream=False).propose(workspace, brief())
        streamed = LLMProposer("m", client=client()).propose(workspace, brief())
    assert whole is not None and whole.failed and "Timeout" in whole.failed
    assert streamed is not None and streamed.failed is None
    assert streamed.tokens == {"input": 1000, "output": 200}
    assert "COST = 50" in (workspace / "work.py").read_text()
    assert "stream" not in model.requests[0] and model.requests[1]["stream"] is True


def test_the_cli_sets_the_llm_timeout(session: Repo) -> None:
    from model_stub import StubModel

    def slow(_body: dict) -> str:
        time.sleep(1.5)  # three times --llm-timeout before the first byte
        return GOOD

    with StubModel([slow] * 3) as model:
        proc = subprocess.run(
            [sys.executable, "-m", "autoresearch", "loop", "--llm", "m", "--base-url", model.url,
             "--llm-timeout", "0.5", "--max-failures", "1", "--json"],
            cwd=session.path, capture_output=True, text=True, timeout=300, check=False,
            env=session.env(OPENAI_API_KEY="k"))
    assert proc.returncode == 1, proc.stderr + proc.stdout
    assert "Timeout" in proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["experiments"] == 0
