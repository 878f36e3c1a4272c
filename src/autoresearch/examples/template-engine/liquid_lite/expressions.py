"""Read expressions, filter chains and conditions from their source text and evaluate them."""

import re

from .errors import TemplateSyntaxError
from .filters import FILTERS
from .values import BLANK, EMPTY, get_item, is_blank, is_empty, is_truthy, to_int

STRING = r"\"[^\"]*\"|'[^']*'"
INTEGER = r"-?\d+"
FLOAT = r"-?\d+\.\d+"
NAME = r"[A-Za-z_][\w-]*\??"
INDEX = r"\[(?:" + STRING + r"|-?\d+|" + NAME + r"(?:\." + NAME + r")*)\]"
PATH = NAME + r"(?:\." + NAME + r"|" + INDEX + r")*"
RANGE = r"\(\s*(" + INTEGER + r"|" + PATH + r")\s*\.\.\s*(" + INTEGER + r"|" + PATH + r")\s*\)"
SEGMENT = r"\[(" + STRING + r"|[^\]]*)\]|([^.\[\]]+)"
KEYWORDS = {"true": True, "false": False, "nil": None, "null": None,
            "empty": EMPTY, "blank": BLANK}
OPERATORS = ("==", "!=", "<>", "<", ">", "<=", ">=", "contains")
CONDITION_TOKEN = r"\s*(" + STRING + r"|\([^()]*\)|==|!=|<>|<=|>=|<|>|(?:" + STRING + r"|[^\s=!<>\"'])+)"


def classify(text):
    """Return (kind, payload) for an expression's text; raise TemplateSyntaxError if invalid."""
    text = text.strip()
    if re.fullmatch(STRING, text):
        return "literal", text[1:-1]
    if re.fullmatch(INTEGER, text):
        return "literal", int(text)
    if re.fullmatch(FLOAT, text):
        return "literal", float(text)
    if text in KEYWORDS:
        return "literal", KEYWORDS[text]
    match = re.fullmatch(RANGE, text)
    if match:
        return "range", (match.group(1), match.group(2))
    if re.fullmatch(PATH, text):
        return "path", text
    raise TemplateSyntaxError(f"invalid expression {text!r}")


def evaluate(text, context):
    """Evaluate an expression such as `"a"`, `3`, `(1..n)` or `product.tags[0]`."""
    kind, payload = classify(text)
    if kind == "literal":
        return payload
    if kind == "range":
        start = to_int(evaluate(payload[0], context))
        stop = to_int(evaluate(payload[1], context))
        return range(start, stop + 1)
    return lookup(payload, context)


def lookup(path, context):
    """Resolve a dotted/indexed variable path against the context."""
    segments = re.findall(SEGMENT, path)
    value = context.resolve(segments[0][1].rstrip("?"))
    for bracket, name in segments[1:]:
        if bracket:
            value = get_item(value, evaluate(bracket, context), False)
        else:
            value = get_item(value, name.rstrip("?"), True)
    return value


def split_unquoted(text, separator):
    """Split `text` on `separator` wherever it is not inside a quoted string."""
    pattern = re.escape(separator) + r"(?=(?:[^\"']|" + STRING + r")*$)"
    return re.split(pattern, text)


def parse_filter(text):
    """Split one filter call `name: arg, arg` into its name and argument texts."""
    name, colon, rest = text.partition(":")
    name = name.strip()
    if not re.fullmatch(r"[A-Za-z_]\w*", name):
        raise TemplateSyntaxError(f"invalid filter {text.strip()!r}")
    if name not in FILTERS:
        raise TemplateSyntaxError(f"unknown filter {name!r}")
    arguments = split_unquoted(rest, ",") if colon else []
    for argument in arguments:
        if not argument.strip():
            raise TemplateSyntaxError(f"missing argument to filter {name!r}")
    return name, arguments


def check_filtered(text):
    """Raise TemplateSyntaxError unless `text` is `expression | filter: args | ...`."""
    if not text.strip():
        raise TemplateSyntaxError("empty expression")
    parts = split_unquoted(text, "|")
    classify(parts[0])
    for part in parts[1:]:
        for argument in parse_filter(part)[1]:
            classify(argument)


def evaluate_filtered(text, context):
    """Evaluate `expression | filter: args | ...`, re-reading the text on every call."""
    parts = split_unquoted(text, "|")
    value = evaluate(parts[0], context)
    for part in parts[1:]:
        name, arguments = parse_filter(part)
        values = [evaluate(argument, context) for argument in arguments]
        value = FILTERS[name](value, *values)
    return value


def condition_tokens(text):
    """Split a condition into operand, operator and and/or tokens."""
    tokens = []
    position = 0
    pattern = re.compile(CONDITION_TOKEN)
    while position < len(text):
        if not text[position:].strip():
            break
        match = pattern.match(text, position)
        if match is None:
            raise TemplateSyntaxError(f"invalid condition {text.strip()!r}")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def split_condition(text):
    """Return ([comparison, ...], [joiner, ...]) where a comparison is [left] or [left, op, right]."""
    comparisons = [[]]
    joiners = []
    for token in condition_tokens(text):
        if token in ("and", "or"):
            comparisons.append([])
            joiners.append(token)
        else:
            comparisons[-1].append(token)
    for comparison in comparisons:
        if len(comparison) == 3 and comparison[1] in OPERATORS:
            continue
        if len(comparison) == 1 and comparison[0] not in OPERATORS:
            continue
        raise TemplateSyntaxError(f"invalid condition {text.strip()!r}")
    return comparisons, joiners


def check_condition(text):
    """Raise TemplateSyntaxError unless `text` is a valid condition."""
    comparisons, _ = split_condition(text)
    for comparison in comparisons:
        classify(comparison[0])
        if len(comparison) == 3:
            classify(comparison[2])


def evaluate_condition(text, context):
    """Evaluate a condition; `and`/`or` group from the right, as in Liquid."""
    comparisons, joiners = split_condition(text)
    result = _compare_tokens(comparisons[-1], context)
    for index in range(len(joiners) - 1, -1, -1):
        left = _compare_tokens(comparisons[index], context)
        if joiners[index] == "and":
            result = left and result
        else:
            result = left or result
    return result


def _compare_tokens(comparison, context):
    left = evaluate(comparison[0], context)
    if len(comparison) == 1:
        return is_truthy(left)
    return compare(left, comparison[1], evaluate(comparison[2], context))


def compare(left, operator, right):
    """Apply a comparison operator with Liquid's rules (mismatched types are never ordered)."""
    if operator == "==":
        return equal(left, right)
    if operator in ("!=", "<>"):
        return not equal(left, right)
    if operator == "contains":
        if isinstance(left, str):
            return right is not None and str(right) in left
        if isinstance(left, (list, tuple, dict)):
            return right in left
        return False
    if not _orderable(left, right):
        return False
    if operator == "<":
        return left < right
    if operator == ">":
        return left > right
    if operator == "<=":
        return left <= right
    return left >= right


def equal(left, right):
    """Liquid equality, including the `empty` and `blank` keywords."""
    if right is EMPTY or left is EMPTY:
        return is_empty(left if right is EMPTY else right)
    if right is BLANK or left is BLANK:
        return is_blank(left if right is BLANK else right)
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return left == right


def _orderable(left, right):
    numbers = (int, float)
    if isinstance(left, bool) or isinstance(right, bool):
        return False
    if isinstance(left, numbers) and isinstance(right, numbers):
        return True
    return isinstance(left, str) and isinstance(right, str)
