"""The public Template class."""

from .context import Context
from .nodes import render_nodes
from .parser import parse as parse_nodes


class Template:
    """A parsed template that can be rendered many times."""

    def __init__(self, source):
        self.source = source
        self.nodes = parse_nodes(source)

    def render(self, variables=None, **kwargs):
        """Render with the variables of a mapping and/or keyword arguments."""
        scope = dict(variables or {})
        scope.update(kwargs)
        return render_nodes(self.nodes, Context(scope))


def parse(source):
    """Parse `source` into a Template."""
    return Template(source)


def render(source, variables=None, **kwargs):
    """Parse and render `source` in one call."""
    return Template(source).render(variables, **kwargs)
