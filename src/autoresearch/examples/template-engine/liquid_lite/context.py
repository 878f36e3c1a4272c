"""The variable scopes a template is rendered against."""


class Context:
    """A stack of scopes; loops push a scope, `assign` writes to the outermost one."""

    def __init__(self, variables):
        self.scopes = [dict(variables)]

    def resolve(self, name):
        """Return the innermost value bound to `name`, or None."""
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def assign(self, name, value):
        """Bind `name` for the rest of the render, as Liquid's assign and capture do."""
        self.scopes[0][name] = value

    def push(self, scope):
        self.scopes.append(scope)

    def pop(self):
        self.scopes.pop()
