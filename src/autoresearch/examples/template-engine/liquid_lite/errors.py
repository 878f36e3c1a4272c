"""Exceptions raised while parsing or rendering a template."""


class LiquidError(Exception):
    """Base class of every error raised by liquid_lite."""


class TemplateSyntaxError(LiquidError):
    """The template text is malformed; `line` is 1-based when known."""

    def __init__(self, message, line=None):
        self.message = message
        self.line = line
        if line is None:
            super().__init__(message)
        else:
            super().__init__(f"line {line}: {message}")


class RenderError(LiquidError):
    """A well-formed template failed while rendering (e.g. division by zero)."""
