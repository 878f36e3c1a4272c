"""Liquid value semantics: truthiness, output text, numbers and item lookup."""

import math


class _Special:
    """The `empty` and `blank` keywords, which compare equal to empty-ish values."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


EMPTY = _Special("empty")
BLANK = _Special("blank")

SPECIAL_PROPERTIES = ("size", "first", "last")


def is_truthy(value):
    """Only nil and false are falsy in Liquid."""
    return value is not None and value is not False


def to_output(value):
    """Return the text that `{{ value }}` renders."""
    if value is None or isinstance(value, _Special):
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        text = ""
        for item in value:
            text += to_output(item)
        return text
    if isinstance(value, range):
        return f"{value.start}..{value.stop - 1}"
    return str(value)


def to_number(value):
    """Coerce a value to int or float the way Liquid's math filters do (0 if not numeric)."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, (int, float)):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return 0
    return number if math.isfinite(number) else 0


def to_int(value):
    """Coerce a value to an int (used for loop limits, offsets and ranges)."""
    return int(to_number(value))


def is_empty(value):
    """True for values equal to the `empty` keyword."""
    return isinstance(value, (str, list, tuple, dict)) and len(value) == 0


def is_blank(value):
    """True for values equal to the `blank` keyword."""
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    return is_empty(value)


def get_item(value, key, by_name):
    """Look up `key` in `value`; `by_name` is True for `a.key`, False for `a[key]`."""
    if isinstance(value, dict):
        if key in value:
            return value[key]
        if by_name and key in SPECIAL_PROPERTIES:
            return _special_property(value, key)
        return None
    if isinstance(value, (list, tuple, str)):
        if isinstance(key, int) and not isinstance(key, bool):
            if -len(value) <= key < len(value):
                return value[key]
            return None
        if by_name and key in SPECIAL_PROPERTIES:
            return _special_property(value, key)
    return None


def _special_property(value, name):
    """Return `size`, `first` or `last` of a collection."""
    if name == "size":
        return len(value)
    if isinstance(value, dict) or len(value) == 0:
        return None
    return value[0] if name == "first" else value[-1]
