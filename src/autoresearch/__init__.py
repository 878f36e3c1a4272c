"""autoresearch: optimization experiments on a git repository, judged by the harness."""

__version__ = "0.1.0"
