"""A chat model behind any OpenAI-compatible endpoint proposes SEARCH/REPLACE edits, applied here."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoresearch.errors import EditError
from autoresearch.infra.git import Git
from autoresearch.infra.workspace import glob_match
from autoresearch.proposers.base import PROPOSAL_PLACEHOLDER, Brief, Proposal

# Directories no proposal may write into, whatever the scope says: git's own data and the
# harness's private state.
_NEVER_EDIT = (".git", ".autoresearch")

SYSTEM_PROMPT = """\
You are an expert engineer running one optimization experiment on a code base. You read the \
brief and the files, choose ONE focused change that you expect to improve the metric, and \
answer with edits in the exact format you are given. A harness measures your change and keeps \
it only if the metric improves and the checks still pass."""

FORMAT_INSTRUCTIONS = """\
## How to answer

Answer with exactly this, and nothing that could be mistaken for it:

DESCRIPTION: <one line: what the change does>
HYPOTHESIS: <one line: why it should improve the metric>

then one or more SEARCH/REPLACE blocks, each in this format:

path/to/file.py
<<<<<<< SEARCH
exact existing lines, copied character for character, including indentation
=======
the lines that replace them
>>>>>>> REPLACE

Rules:
- The line before `<<<<<<< SEARCH` is the file's path relative to the repository root, alone on its line.
- The SEARCH section must match a contiguous run of whole lines of the file exactly once: include \
enough surrounding lines to make it unique, and keep it short otherwise.
- Several blocks may edit the same file; they apply in order.
- To create a new file, give its path and an empty SEARCH section.
- Edit only files you may edit (see below); never edit protected files.
- Do not rewrite whole files; do not explain outside the DESCRIPTION and HYPOTHESIS lines."""

_START = re.compile(r"^<{5,9} ?SEARCH\s*$")
_DIVIDER = re.compile(r"^={5,9}\s*$")
_END = re.compile(r"^>{5,9} ?REPLACE\s*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})[\w+-]*\s*$")
_DESCRIPTION = re.compile(r"^[\s*_#>-]*DESCRIPTION[\s*_]*:[\s*_]*(.+?)[\s*_]*$", re.IGNORECASE | re.MULTILINE)
_HYPOTHESIS = re.compile(r"^[\s*_#>-]*HYPOTHESIS[\s*_]*:[\s*_]*(.+?)[\s*_]*$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Edit:
    """One SEARCH/REPLACE block as the model wrote it."""

    path: str
    search: list[str]  # lines without their terminators
    replace: list[str]


class LLMProposer:
    """Asks a chat model for SEARCH/REPLACE edits and applies them to the workspace, all or nothing.

    Works with any OpenAI-compatible chat endpoint through `base_url`; local servers need no key.
    A malformed answer is retried once with the error shown to the model.

    >>> p = LLMProposer("qwen2.5-coder:7b", base_url="http://localhost:11434/v1")
    >>> p.name
    'llm:qwen2.5-coder:7b'
    >>> # proposal = p.propose(Path("."), brief)  # edits files; proposal.description, .tokens, .cost_usd
    """

    # Proposals share only the SDK client, which is thread-safe (two threads may each build one).
    parallel_safe = True

    def __init__(self, model: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 price_in_per_mtok: float = 0.0, price_out_per_mtok: float = 0.0,
                 max_context_chars: int = 60_000, timeout_s: float = 300, client: Any = None,
                 stream: bool = True):
        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.price_in_per_mtok = price_in_per_mtok
        self.price_out_per_mtok = price_out_per_mtok
        self.max_context_chars = max_context_chars
        self.timeout_s = timeout_s  # with streaming: the longest silence between two chunks
        self.stream = stream
        self.name = f"llm:{model}"
        self._client = client

    def propose(self, workspace: Path, brief: Brief) -> Proposal | None:
        workspace = Path(workspace)
        transcript = _Transcript(workspace / ".autoresearch" / "proposals" / f"run-{brief.run:04d}-llm.md",
                                 self.name)
        tokens = {"input": 0, "output": 0}

        def result(description: str, **fields: Any) -> Proposal:
            cost = (tokens["input"] * self.price_in_per_mtok
                    + tokens["output"] * self.price_out_per_mtok) / 1e6
            transcript.note("Result", fields.get("failed") or f"applied: {description}")
            path = transcript.write()
            return Proposal(description=description, tokens=dict(tokens), cost_usd=cost, transcript=path,
                            **fields)

        client, problem = self._get_client()
        if client is None:
            return result("", failed=problem)
        messages = [{"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": self._prompt(workspace, brief)}]
        for message in messages:
            transcript.message(message)
        description, error = "", ""
        for attempt in (1, 2):
            try:
                used_in, used_out, answer, finish = self._complete(client, messages)
            except Exception as exc:  # the SDK has already retried what is worth retrying
                transcript.note("API error", repr(exc))
                return result(description, failed=f"the model API failed: {_describe_api_error(exc)}")
            tokens["input"] += used_in
            tokens["output"] += used_out
            transcript.message({"role": "assistant", "content": answer})
            description, hypothesis = _first(_DESCRIPTION, answer) or "", _first(_HYPOTHESIS, answer)
            try:
                if not answer.strip():
                    raise EditError("the answer was empty")
                changed = apply_edits(workspace, parse_edits(answer), brief.scope, brief.protected)
            except OSError as exc:
                return result(description, failed=f"cannot write the edits: {exc}")
            except EditError as exc:
                error = str(exc)
                if finish == "length":
                    error += " (the answer was cut off at the output token limit: use fewer, shorter blocks)"
                if attempt == 2:
                    break
                messages.append({"role": "assistant", "content": answer})
                messages.append({"role": "user", "content": _retry_message(error)})
                transcript.message(messages[-1])
                continue
            return result(description or f"edit {', '.join(changed)}", hypothesis=hypothesis)
        return result(description, failed=f"the model's edits could not be applied after a retry: {error}")

    def _complete(self, client: Any, messages: list[dict[str, str]]) -> tuple[int, int, str, str | None]:
        """One answer: tokens in, tokens out, text, finish reason.

        Streamed by default, so a long answer is never cut by the request timeout (it then bounds
        the silence between chunks) and usage still comes back (`include_usage`).
        """
        if not self.stream:
            return _read_response(client.chat.completions.create(model=self.model, messages=messages))
        chunks = client.chat.completions.create(model=self.model, messages=messages, stream=True,
                                                stream_options={"include_usage": True})
        used_in = used_out = 0
        parts: list[str] = []
        finish = None
        for chunk in chunks:
            usage = getattr(chunk, "usage", None)
            if usage is not None:
                used_in = int(getattr(usage, "prompt_tokens", 0) or 0)
                used_out = int(getattr(usage, "completion_tokens", 0) or 0)
            for choice in getattr(chunk, "choices", None) or []:
                delta = getattr(choice, "delta", None)
                if delta is not None and getattr(delta, "content", None):
                    parts.append(delta.content)
                finish = getattr(choice, "finish_reason", None) or finish
        return used_in, used_out, "".join(parts), finish

    def _get_client(self) -> tuple[Any, str]:
        """The SDK client, built once; or None and the reason it cannot be built."""
        if self._client is not None:
            return self._client, ""
        key = os.environ.get(self.api_key_env)
        if not key and self.base_url is None and not os.environ.get("OPENAI_BASE_URL"):
            return None, (f"no API key: set {self.api_key_env} for OpenAI, or give a base_url "
                          "for a local server such as Ollama")
        try:
            import openai  # lazily: the SDK is slow to import and only this proposer needs it
        except ImportError:
            return None, "the openai package is not installed (pip install openai)"
        try:
            # Local servers (Ollama, vLLM, llama.cpp) ignore the key but the SDK insists on one.
            self._client = openai.OpenAI(base_url=self.base_url, api_key=key or "none-needed-for-local",
                                         timeout=self.timeout_s)
        except Exception as exc:
            return None, f"cannot create the API client: {exc}"
        return self._client, ""

    def _prompt(self, workspace: Path, brief: Brief) -> str:
        files, left_out = self._context_files(workspace, brief)
        # The loop's brief asks agent CLIs to write a report file; this proposer's report is the
        # DESCRIPTION/HYPOTHESIS lines instead, so that request would only mislead the model.
        text = "\n".join(line for line in brief.text.splitlines() if PROPOSAL_PLACEHOLDER not in line)
        parts = [text.rstrip(), "", "## Files", ""]
        for rel, content in files:
            fence = "`" * max(3, _longest_backtick_run(content) + 1)  # a fence the file cannot close
            readonly = any(glob_match(rel, g) for g in brief.protected)
            parts += [f"{rel}{'  (protected: read only)' if readonly else ''}", fence,
                      content.rstrip("\n"), fence, ""]
        if not files:
            parts += ["(no files in scope could be shown)", ""]
        if left_out:
            parts += [f"Left out to fit the context budget of {self.max_context_chars} characters "
                      f"(they exist; you may still edit them if you know their exact lines): "
                      f"{', '.join(left_out)}", ""]
        parts += [FORMAT_INSTRUCTIONS, ""]
        allowed = ", ".join(brief.scope) if brief.scope else "any file in the repository"
        parts.append("You may edit: " + allowed)
        if brief.protected:
            parts.append("Protected, never edit: " + ", ".join(brief.protected))
        return "\n".join(parts) + "\n"

    def _context_files(self, workspace: Path, brief: Brief) -> tuple[list[tuple[str, str]], list[str]]:
        """Whole in-scope text files, in `git ls-files` order, while they fit the budget.

        A file too big for what is left is skipped rather than ending the list, so one huge
        file does not hide every small file after it.
        """
        files: list[tuple[str, str]] = []
        left_out: list[str] = []
        budget = self.max_context_chars
        for rel in _tracked_files(workspace):
            if brief.scope and not any(glob_match(rel, g) for g in brief.scope):
                continue
            text = _read_text(workspace / rel)
            if text is None:
                continue  # binary or unreadable: nothing a text edit could change
            cost = len(text) + len(rel) + 10
            if cost > budget:
                left_out.append(rel)
                continue
            budget -= cost
            files.append((rel, text))
        return files, left_out


def parse_edits(answer: str) -> list[Edit]:
    """The SEARCH/REPLACE blocks of an answer, in order; EditError when there are none or one is broken.

    >>> [e.path for e in parse_edits("a.py\\n<<<<<<< SEARCH\\nx = 1\\n=======\\nx = 2\\n>>>>>>> REPLACE\\n")]
    ['a.py']
    """
    lines = answer.replace("\r\n", "\n").split("\n")
    edits: list[Edit] = []
    i = 0
    while i < len(lines):
        if _END.match(lines[i]):
            raise EditError(f"line {i + 1} ({lines[i].strip()!r}) closes a block that never opened "
                            "with <<<<<<< SEARCH")
        if not _START.match(lines[i]):
            i += 1
            continue
        path = _path_before(lines, i)
        if path is None:
            raise EditError(f"the SEARCH block at line {i + 1} has no file path on the line before it")
        search, replace, section = [], [], "search"
        j = i + 1
        while j < len(lines):
            line = lines[j]
            if _START.match(line):
                raise EditError(f"the block for {path} starting at line {i + 1} is not closed before "
                                f"another SEARCH at line {j + 1}")
            if _DIVIDER.match(line) and section == "search":
                section = "replace"
            elif _END.match(line):
                if section != "replace":
                    raise EditError(f"the block for {path} at line {i + 1} has no ======= divider")
                break
            elif section == "search":
                search.append(line)
            else:
                replace.append(line)
            j += 1
        else:
            raise EditError(f"the block for {path} starting at line {i + 1} has no >>>>>>> REPLACE line")
        edits.append(Edit(path, search, replace))
        i = j + 1
    if not edits:
        raise EditError("the answer contains no SEARCH/REPLACE blocks")
    return edits


def apply_edits(workspace: Path, edits: list[Edit], scope: list[str], protected: list[str]) -> list[str]:
    """Check every edit, then write the files; return the paths changed.

    Nothing is written when any edit fails (EditError); a write error (OSError) undoes earlier writes.
    """
    root = workspace.resolve()
    new_text: dict[str, str] = {}  # path -> content after the edits so far
    old_text: dict[str, str | None] = {}  # path -> content before (None: the file does not exist)
    for number, edit in enumerate(edits, 1):
        rel = _check_path(root, edit.path, scope, protected)
        if rel not in new_text:
            target = root / rel
            if target.exists():
                text = _read_text(target)
                if text is None:
                    raise EditError(f"block {number}: {rel} is not a text file")
            else:
                text = None
            old_text[rel] = text
            new_text[rel] = text if text is not None else ""
        if not edit.search:
            if old_text[rel] is not None and new_text[rel].strip():
                raise EditError(f"block {number}: the SEARCH section is empty but {rel} exists; quote the "
                                "lines to change (an empty SEARCH only creates new files)")
            new_text[rel] = _join(edit.replace, "\n", final_newline=True)
            continue
        new_text[rel] = _replace_once(new_text[rel], edit, number, rel)
    changed = [rel for rel in new_text if new_text[rel] != old_text[rel]]
    if not changed:
        raise EditError("the edits change nothing: every REPLACE equals its SEARCH")
    written: list[str] = []
    try:
        for rel in changed:
            _write(root / rel, new_text[rel])
            written.append(rel)
    except OSError:
        # A disk or permission error half way: put back what was written, so it stays all or nothing.
        for rel in written:
            before = old_text[rel]
            if before is None:
                (root / rel).unlink(missing_ok=True)
            else:
                _write(root / rel, before)
        raise
    return changed


def _write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # newline="" keeps the file's own line endings, which the edited text already carries.
    with open(target, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def _check_path(root: Path, raw: str, scope: list[str], protected: list[str]) -> str:
    """The repository-relative path an edit may write, or EditError saying why not."""
    if not raw or "\0" in raw:
        raise EditError(f"invalid path {raw!r}")
    candidate = (root / raw).resolve()  # resolves `..` and symlinks, so neither can escape
    try:
        rel = candidate.relative_to(root).as_posix()
    except ValueError:
        raise EditError(f"{raw} is outside the repository") from None
    if rel in ("", "."):
        raise EditError(f"{raw} is the repository itself, not a file")
    if rel.split("/")[0] in _NEVER_EDIT:
        raise EditError(f"{rel} is inside {rel.split('/')[0]}/, which may not be edited")
    if any(glob_match(rel, pattern) for pattern in protected):
        raise EditError(f"{rel} is protected and may not be edited")
    if scope and not any(glob_match(rel, pattern) for pattern in scope):
        raise EditError(f"{rel} is out of scope; you may edit only {', '.join(scope)}")
    return rel


def _replace_once(text: str, edit: Edit, number: int, rel: str) -> str:
    """Replace the one run of lines equal to SEARCH; tolerate only trailing-whitespace differences."""
    lines = _split_lines(text)
    bare = [line.removesuffix("\n").removesuffix("\r") for line in lines]
    n = len(edit.search)
    starts = [k for k in range(len(bare) - n + 1) if bare[k:k + n] == edit.search]
    if not starts:
        # Models often drop or add trailing spaces; that is the only difference forgiven.
        stripped = [line.rstrip() for line in bare]
        wanted = [line.rstrip() for line in edit.search]
        starts = [k for k in range(len(bare) - n + 1) if stripped[k:k + n] == wanted]
    if not starts:
        raise EditError(f"block {number}: the SEARCH text was not found in {rel}; it must match whole "
                        "existing lines exactly, including indentation")
    if len(starts) > 1:
        raise EditError(f"block {number}: the SEARCH text occurs {len(starts)} times in {rel}; "
                        "include more surrounding lines so it matches exactly once")
    k = starts[0]
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    at_end = k + n == len(lines)
    final_newline = not at_end or lines[-1].endswith("\n")
    return "".join(lines[:k]) + _join(edit.replace, newline, final_newline) + "".join(lines[k + n:])


def _split_lines(text: str) -> list[str]:
    """Lines with their terminators, split on \\n only (str.splitlines also splits on form feeds)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _join(lines: list[str], newline: str, final_newline: bool) -> str:
    if not lines:
        return ""
    return newline.join(lines) + (newline if final_newline else "")


def _path_before(lines: list[str], index: int) -> str | None:
    """The file path a block names: the nearest non-blank line above it, skipping a code fence."""
    k = index - 1
    # The path must sit right above the block; a blank line or an opening fence may come between.
    while k >= max(0, index - 3) and (not lines[k].strip() or _FENCE.match(lines[k])):
        k -= 1
    if k < 0 or not lines[k].strip() or _FENCE.match(lines[k]):
        return None
    # Models decorate paths as `path`, **path**, "path:" or "File: path"; that much is undone.
    path = lines[k].strip().strip("`*\"'").rstrip(":").strip()
    path = re.sub(r"^(?:file(?:name)?|path)\s*:\s*", "", path, flags=re.IGNORECASE).strip("`*\"' ")
    path = path.removeprefix("./")
    if not path or " " in path or path.startswith(("#", "<", "=", ">")) or _END.match(lines[k]):
        return None
    return path


def _tracked_files(workspace: Path) -> list[str]:
    out = Git(workspace).run("ls-files", "-z", check=False)
    return [f for f in out.split("\0") if f]


def _read_text(path: Path) -> str | None:
    """The file as text with its line endings intact, or None when it is binary or unreadable."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _longest_backtick_run(text: str) -> int:
    runs = re.findall(r"`+", text)
    return max((len(r) for r in runs), default=0)


def _first(pattern: re.Pattern[str], answer: str) -> str | None:
    match = pattern.search(answer)
    return match.group(1).strip() if match else None


def _retry_message(error: str) -> str:
    return (f"Your edits could not be applied, so no file was changed: {error}.\n\n"
            "Answer again in full: the DESCRIPTION and HYPOTHESIS lines, then every SEARCH/REPLACE "
            "block, following the format exactly. Copy SEARCH lines verbatim from the files shown.")


def _read_response(response: Any) -> tuple[int, int, str, str | None]:
    """Tokens in, tokens out, the answer text and the finish reason, tolerating sparse replies.

    Local servers differ: some omit usage, some send no choices; neither should crash a run.
    """
    usage = getattr(response, "usage", None)
    used_in = int(getattr(usage, "prompt_tokens", 0) or 0)
    used_out = int(getattr(usage, "completion_tokens", 0) or 0)
    try:
        choice = response.choices[0]
        return used_in, used_out, str(choice.message.content or ""), getattr(choice, "finish_reason", None)
    except (AttributeError, IndexError, TypeError):
        return used_in, used_out, "", None


def _describe_api_error(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    kind = type(exc).__name__
    text = str(exc).strip() or kind
    if len(text) > 300:
        text = text[:300] + "..."
    return f"{kind} (HTTP {status}): {text}" if status else f"{kind}: {text}"


class _Transcript:
    """The conversation as markdown, kept for the ledger and for debugging prompts."""

    def __init__(self, path: Path, name: str):
        self.path = path
        self.parts = [f"# {name}\n"]

    def message(self, message: dict[str, str]) -> None:
        content = message["content"]
        fence = "`" * max(3, _longest_backtick_run(content) + 1)
        self.parts.append(f"## {message['role']}\n\n{fence}\n{content.rstrip()}\n{fence}\n")

    def note(self, title: str, text: str) -> None:
        self.parts.append(f"## {title}\n\n{text}\n")

    def write(self) -> Path | None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("\n".join(self.parts), encoding="utf-8")
        except OSError:
            return None  # a transcript is a convenience; never fail a proposal over it
        return self.path
