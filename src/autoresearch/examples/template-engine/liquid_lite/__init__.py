"""liquid_lite: a small, pure-Python engine for a subset of the Liquid template language."""

from .errors import LiquidError, RenderError, TemplateSyntaxError
from .filters import FILTERS
from .template import Template, parse, render

__all__ = ["FILTERS", "LiquidError", "RenderError", "Template", "TemplateSyntaxError",
           "parse", "render"]
