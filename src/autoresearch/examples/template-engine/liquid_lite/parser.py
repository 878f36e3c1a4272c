"""Build the node tree of a template from its tokens."""

import re

from .errors import TemplateSyntaxError
from .lexer import OUTPUT, TEXT, tokenize
from .nodes import Assign, Capture, For, If, Output, Text

MAX_DEPTH = 100
TAG_MARKUP = r"([A-Za-z_]\w*)\s*(.*)"
CLOSING_TAGS = ("elsif", "else", "endif", "endunless", "endfor", "endcapture", "endraw",
                "endcomment")


def parse(source):
    """Return the list of top-level nodes of `source`."""
    parser = _Parser(tokenize(source))
    nodes, _, _, _ = parser.parse_body(())
    return nodes


class _Parser:
    def __init__(self, tokens):
        self.tokens = tokens
        self.position = 0
        self.depth = 0

    def parse_body(self, stop_tags):
        """Parse nodes up to one of `stop_tags`; return (nodes, tag name, markup, token)."""
        nodes = []
        while self.position < len(self.tokens):
            token = self.tokens[self.position]
            self.position += 1
            if token.kind == TEXT:
                if token.value:
                    nodes.append(Text(token.value))
                continue
            if token.kind == OUTPUT:
                nodes.append(Output(token.value, token.line))
                continue
            name, markup = _split_tag(token)
            if name in stop_tags:
                return nodes, name, markup, token
            node = self.parse_tag(name, markup, token)
            if node is not None:
                nodes.append(node)
        return nodes, None, None, None

    def parse_tag(self, name, markup, token):
        if name == "assign":
            return Assign(markup, token.line)
        if name in ("if", "unless", "for", "capture"):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise TemplateSyntaxError("nesting too deep", token.line)
            node = self.BLOCK_PARSERS[name](self, markup, token)
            self.depth -= 1
            return node
        if name in ("comment", "raw", "endraw"):
            return None  # the lexer already consumed the body of comment and raw
        if name in CLOSING_TAGS:
            raise TemplateSyntaxError(f"unexpected '{name}'", token.line)
        raise TemplateSyntaxError(f"unknown tag '{name}'", token.line)

    def parse_block(self, name, token, stop_tags):
        body, end, markup, end_token = self.parse_body(stop_tags)
        if end is None:
            raise TemplateSyntaxError(f"'{name}' tag was never closed", token.line)
        return body, end, markup

    def parse_if(self, markup, token):
        branches = []
        condition = markup
        while True:
            body, end, end_markup = self.parse_block("if", token, ("elsif", "else", "endif"))
            branches.append((condition, body))
            if end == "elsif":
                condition = end_markup
                continue
            else_body = []
            if end == "else":
                else_body, _, _ = self.parse_block("if", token, ("endif",))
            return If(branches, else_body, token.line)

    def parse_unless(self, markup, token):
        body, end, _ = self.parse_block("unless", token, ("else", "endunless"))
        else_body = []
        if end == "else":
            else_body, _, _ = self.parse_block("unless", token, ("endunless",))
        return If([(markup, body)], else_body, token.line, negate_first=True)

    def parse_for(self, markup, token):
        body, end, _ = self.parse_block("for", token, ("else", "endfor"))
        else_body = []
        if end == "else":
            else_body, _, _ = self.parse_block("for", token, ("endfor",))
        return For(markup, body, else_body, token.line)

    def parse_capture(self, markup, token):
        body, _, _ = self.parse_block("capture", token, ("endcapture",))
        return Capture(markup.strip(), body, token.line)

    BLOCK_PARSERS = {"if": parse_if, "unless": parse_unless, "for": parse_for,
                     "capture": parse_capture}


def _split_tag(token):
    match = re.fullmatch(TAG_MARKUP, token.value, re.S)
    if match is None:
        raise TemplateSyntaxError(f"invalid tag {{% {token.value} %}}", token.line)
    return match.group(1), match.group(2)
