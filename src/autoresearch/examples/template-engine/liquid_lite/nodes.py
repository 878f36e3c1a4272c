"""The nodes of a parsed template; each renders itself against a Context."""

import re

from .expressions import (
    check_condition, check_filtered, classify, evaluate, evaluate_condition, evaluate_filtered,
)
from .errors import TemplateSyntaxError
from .values import to_int, to_output

FOR_MARKUP = r"([A-Za-z_][\w-]*)\s+in\s+(\([^()]*\)|\S+)((?:\s+\S+)*)\s*"
FOR_OPTION = r"\s*(?:(reversed)|(limit|offset)\s*:\s*([^\s,]+))\s*,?"
ASSIGN_MARKUP = r"([A-Za-z_][\w-]*)\s*=(?!=)\s*(.+)"


def render_nodes(nodes, context):
    """Render a list of nodes and concatenate their output."""
    output = ""
    for node in nodes:
        output += node.render(context)
    return output


class Text:
    def __init__(self, text):
        self.text = text

    def render(self, context):
        return self.text


class Output:
    """`{{ expression | filters }}`."""

    def __init__(self, markup, line):
        _checked(check_filtered, markup, line)
        self.markup = markup

    def render(self, context):
        return to_output(evaluate_filtered(self.markup, context))


class If:
    """`if`/`elsif`/`else`, and `unless` (whose first condition is negated)."""

    def __init__(self, branches, else_body, line, negate_first=False):
        for condition, _ in branches:
            _checked(check_condition, condition, line)
        self.branches = branches
        self.else_body = else_body
        self.negate_first = negate_first

    def render(self, context):
        for index, (condition, body) in enumerate(self.branches):
            result = bool(evaluate_condition(condition, context))
            if index == 0 and self.negate_first:
                result = not result
            if result:
                return render_nodes(body, context)
        return render_nodes(self.else_body, context)


class For:
    """`for item in collection limit: n offset: n reversed` with a `forloop` object."""

    def __init__(self, markup, body, else_body, line):
        _checked(parse_for_markup, markup, line)
        self.markup = markup
        self.body = body
        self.else_body = else_body

    def render(self, context):
        variable, collection, options = parse_for_markup(self.markup)
        items = to_sequence(evaluate(collection, context))
        if "offset" in options:
            items = items[max(to_int(evaluate(options["offset"], context)), 0):]
        if "limit" in options:
            items = items[:max(to_int(evaluate(options["limit"], context)), 0)]
        if "reversed" in options:
            items = items[::-1]
        if not items:
            return render_nodes(self.else_body, context)
        output = ""
        length = len(items)
        for index, item in enumerate(items):
            forloop = {
                "index": index + 1,
                "index0": index,
                "rindex": length - index,
                "rindex0": length - index - 1,
                "first": index == 0,
                "last": index == length - 1,
                "length": length,
            }
            context.push({variable: item, "forloop": forloop})
            output += render_nodes(self.body, context)
            context.pop()
        return output


class Assign:
    """`assign name = expression | filters`."""

    def __init__(self, markup, line):
        match = re.fullmatch(ASSIGN_MARKUP, markup, re.S)
        if match is None:
            raise TemplateSyntaxError(f"invalid assign {markup!r}", line)
        _checked(check_filtered, match.group(2), line)
        self.markup = markup

    def render(self, context):
        match = re.fullmatch(ASSIGN_MARKUP, self.markup, re.S)
        context.assign(match.group(1), evaluate_filtered(match.group(2), context))
        return ""


class Capture:
    """`capture name` ... `endcapture`: assign the rendered body as a string."""

    def __init__(self, name, body, line):
        if not re.fullmatch(r"[A-Za-z_][\w-]*", name):
            raise TemplateSyntaxError(f"invalid capture name {name!r}", line)
        self.name = name
        self.body = body

    def render(self, context):
        context.assign(self.name, render_nodes(self.body, context))
        return ""


def parse_for_markup(markup):
    """Return (variable, collection expression, {option: expression}) of a for tag."""
    match = re.fullmatch(FOR_MARKUP, markup, re.S)
    if match is None:
        raise TemplateSyntaxError(f"invalid for loop {markup!r}")
    classify(match.group(2))
    options = {}
    rest = match.group(3)
    position = 0
    while rest[position:].strip():
        option = re.compile(FOR_OPTION).match(rest, position)
        if option is None:
            raise TemplateSyntaxError(f"invalid for loop option in {markup!r}")
        if option.group(1):
            options["reversed"] = True
        else:
            classify(option.group(3))
            options[option.group(2)] = option.group(3)
        position = option.end()
    return match.group(1), match.group(2), options


def to_sequence(value):
    """The items a for loop iterates over."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, range)):
        return list(value)
    if isinstance(value, dict):
        return [[key, item] for key, item in value.items()]
    if isinstance(value, str):
        return [value] if value else []
    return []


def _checked(check, markup, line):
    """Run a syntax check, attaching the tag's line number to any error."""
    try:
        check(markup)
    except TemplateSyntaxError as error:
        if error.line is not None:
            raise
        raise TemplateSyntaxError(error.message, line) from None
