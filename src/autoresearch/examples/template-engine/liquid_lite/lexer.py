"""Split template source into text, output (`{{ }}`) and tag (`{% %}`) tokens."""

import re

from .errors import TemplateSyntaxError

TEXT = "text"
OUTPUT = "output"
TAG = "tag"


class Token:
    """One piece of template source with its whitespace-control flags."""

    def __init__(self, kind, value, line, strip_before=False, strip_after=False):
        self.kind = kind
        self.value = value
        self.line = line
        self.strip_before = strip_before
        self.strip_after = strip_after

    def __repr__(self):
        return f"Token({self.kind!r}, {self.value!r}, line={self.line})"


def line_at(source, position):
    """Return the 1-based line number of `position` in `source`."""
    return source.count("\n", 0, position) + 1


def tokenize(source):
    """Return the list of tokens of `source`; raise TemplateSyntaxError on unclosed markup."""
    opener = re.compile(r"\{\{|\{%")
    tokens = []
    position = 0
    while True:
        match = opener.search(source, position)
        if match is None:
            if position < len(source):
                tokens.append(Token(TEXT, source[position:], line_at(source, position)))
            break
        start = match.start()
        if start > position:
            tokens.append(Token(TEXT, source[position:start], line_at(source, position)))
        token, position = _read_markup(source, match.group(), start, match.end())
        tokens.append(token)
        if token.kind == TAG:
            name = token.value.split(None, 1)[0] if token.value else ""
            if name == "raw":
                position = _read_raw(source, position, token.line, tokens)
            elif name == "comment":
                position = _skip_comment(source, position, token, tokens)
    _apply_whitespace_control(tokens)
    return tokens


def _read_markup(source, opener, start, body_start):
    """Read one `{{ ... }}` or `{% ... %}` starting at `start`; return (token, end)."""
    if opener == "{{":
        kind, closer, what = OUTPUT, re.compile(r"\}\}"), "output"
    else:
        kind, closer, what = TAG, re.compile(r"%\}"), "tag"
    match = closer.search(source, body_start)
    if match is None:
        raise TemplateSyntaxError(f"unclosed {what} '{opener}'", line_at(source, start))
    inner = source[body_start:match.start()]
    strip_before = inner.startswith("-")
    if strip_before:
        inner = inner[1:]
    strip_after = inner.endswith("-")
    if strip_after:
        inner = inner[:-1]
    token = Token(kind, inner.strip(), line_at(source, start), strip_before, strip_after)
    return token, match.end()


def _find_end_tag(source, position, name):
    """Return the match of `{% end<name> %}` at or after `position`, or None."""
    pattern = re.compile(r"\{%(-?)\s*end" + name + r"\s*(-?)%\}")
    return pattern.search(source, position)


def _read_raw(source, position, line, tokens):
    """Emit the verbatim body of a raw block and its closing tag; return the new position."""
    match = _find_end_tag(source, position, "raw")
    if match is None:
        raise TemplateSyntaxError("'raw' tag was never closed", line)
    tokens.append(Token(TEXT, source[position:match.start()], line_at(source, position)))
    tokens.append(Token(TAG, "endraw", line_at(source, match.start()),
                        bool(match.group(1)), bool(match.group(2))))
    return match.end()


def _skip_comment(source, position, token, tokens):
    """Drop a comment's body; the comment token takes the closing tag's right strip flag."""
    match = _find_end_tag(source, position, "comment")
    if match is None:
        raise TemplateSyntaxError("'comment' tag was never closed", token.line)
    token.strip_after = bool(match.group(2))
    return match.end()


def _apply_whitespace_control(tokens):
    """Strip whitespace next to tokens written with `{{-`, `-}}`, `{%-` or `-%}`."""
    for index in range(len(tokens)):
        token = tokens[index]
        if token.kind == TEXT:
            continue
        if token.strip_before and index > 0 and tokens[index - 1].kind == TEXT:
            tokens[index - 1].value = tokens[index - 1].value.rstrip()
        if token.strip_after and index + 1 < len(tokens) and tokens[index + 1].kind == TEXT:
            tokens[index + 1].value = tokens[index + 1].value.lstrip()
