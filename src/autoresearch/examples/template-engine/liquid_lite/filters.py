"""The standard filters, registered by name in FILTERS."""

import math

from .errors import RenderError
from .values import get_item, is_truthy, to_int, to_number, to_output

FILTERS = {}


def register(name):
    """Decorator that adds a function to FILTERS under `name`."""
    def decorate(function):
        FILTERS[name] = function
        return function
    return decorate


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, range):
        return list(value)
    return [value]


@register("upcase")
def upcase(value):
    return to_output(value).upper()


@register("downcase")
def downcase(value):
    return to_output(value).lower()


@register("capitalize")
def capitalize(value):
    return to_output(value).capitalize()


@register("strip")
def strip(value):
    return to_output(value).strip()


@register("lstrip")
def lstrip(value):
    return to_output(value).lstrip()


@register("rstrip")
def rstrip(value):
    return to_output(value).rstrip()


@register("strip_newlines")
def strip_newlines(value):
    return to_output(value).replace("\r", "").replace("\n", "")


@register("newline_to_br")
def newline_to_br(value):
    return to_output(value).replace("\n", "<br />\n")


@register("size")
def size(value):
    if isinstance(value, (str, list, tuple, dict)):
        return len(value)
    return 0


@register("default")
def default(value, fallback=""):
    if value is None or value is False or value == "" or value == [] or value == {}:
        return fallback
    return value


@register("join")
def join(value, separator=" "):
    return to_output(separator).join(to_output(item) for item in _as_list(value))


@register("append")
def append(value, suffix):
    return to_output(value) + to_output(suffix)


@register("prepend")
def prepend(value, prefix):
    return to_output(prefix) + to_output(value)


@register("replace")
def replace(value, old, new=""):
    return to_output(value).replace(to_output(old), to_output(new))


@register("replace_first")
def replace_first(value, old, new=""):
    return to_output(value).replace(to_output(old), to_output(new), 1)


@register("remove")
def remove(value, text):
    return to_output(value).replace(to_output(text), "")


@register("remove_first")
def remove_first(value, text):
    return to_output(value).replace(to_output(text), "", 1)


@register("truncate")
def truncate(value, length=50, ellipsis="..."):
    text = to_output(value)
    length = to_int(length)
    ellipsis = to_output(ellipsis)
    if len(text) <= length:
        return text
    keep = max(length - len(ellipsis), 0)
    return text[:keep] + ellipsis


@register("truncatewords")
def truncatewords(value, count=15, ellipsis="..."):
    words = to_output(value).split()
    count = max(to_int(count), 1)
    if len(words) <= count:
        return " ".join(words)
    return " ".join(words[:count]) + to_output(ellipsis)


@register("escape")
def escape(value):
    text = to_output(value)
    text = text.replace("&", "&amp;")
    text = text.replace("<", "&lt;")
    text = text.replace(">", "&gt;")
    text = text.replace('"', "&quot;")
    text = text.replace("'", "&#39;")
    return text


@register("plus")
def plus(value, operand):
    return to_number(value) + to_number(operand)


@register("minus")
def minus(value, operand):
    return to_number(value) - to_number(operand)


@register("times")
def times(value, operand):
    return to_number(value) * to_number(operand)


@register("divided_by")
def divided_by(value, operand):
    divisor = to_number(operand)
    if divisor == 0:
        raise RenderError("divided by 0")
    dividend = to_number(value)
    if isinstance(dividend, int) and isinstance(divisor, int):
        return dividend // divisor
    return dividend / divisor


@register("modulo")
def modulo(value, operand):
    divisor = to_number(operand)
    if divisor == 0:
        raise RenderError("divided by 0")
    return to_number(value) % divisor


@register("abs")
def absolute(value):
    return abs(to_number(value))


@register("round")
def round_(value, digits=0):
    digits = to_int(digits)
    number = to_number(value)
    if digits == 0:
        return int(math.floor(number + 0.5))
    return round(float(number), digits)


@register("ceil")
def ceil(value):
    return math.ceil(to_number(value))


@register("floor")
def floor(value):
    return math.floor(to_number(value))


@register("at_least")
def at_least(value, minimum):
    return max(to_number(value), to_number(minimum))


@register("at_most")
def at_most(value, maximum):
    return min(to_number(value), to_number(maximum))


@register("money")
def money(value):
    """Format an amount in cents as dollars, e.g. 123456 -> $1,234.56."""
    cents = to_int(value)
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}${cents // 100:,}.{cents % 100:02d}"


@register("first")
def first(value):
    if isinstance(value, (str, list, tuple)) and len(value) > 0:
        return value[0]
    return None


@register("last")
def last(value):
    if isinstance(value, (str, list, tuple)) and len(value) > 0:
        return value[-1]
    return None


@register("reverse")
def reverse(value):
    return _as_list(value)[::-1]


@register("sort")
def sort(value, key=None):
    items = _as_list(value)
    if key is None:
        return sorted(items, key=_sort_key)
    return sorted(items, key=lambda item: _sort_key(get_item(item, key, True)))


def _sort_key(value):
    """Order nil first, then numbers, then text, without comparing mixed types."""
    if value is None:
        return (0, 0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, value, "")
    return (2, 0, to_output(value))


@register("uniq")
def uniq(value):
    result = []
    for item in _as_list(value):
        if item not in result:
            result.append(item)
    return result


@register("compact")
def compact(value):
    return [item for item in _as_list(value) if item is not None]


@register("map")
def map_(value, key):
    return [get_item(item, key, True) for item in _as_list(value)]


@register("where")
def where(value, key, expected=None):
    items = _as_list(value)
    if expected is None:
        return [item for item in items if is_truthy(get_item(item, key, True))]
    return [item for item in items if get_item(item, key, True) == expected]


@register("split")
def split(value, separator=" "):
    text = to_output(value)
    separator = to_output(separator)
    if text == "":
        return []
    if separator == " ":
        return text.split()
    if separator == "":
        return list(text)
    return text.split(separator)


@register("slice")
def slice_(value, start, length=1):
    start = to_int(start)
    length = to_int(length)
    if isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = to_output(value)
    if start < 0:
        start += len(items)
        if start < 0:
            return items[0:0]
    return items[start:start + length]
