"""autoresearch: optimization experiments on a git repository, judged by the harness.

The library face of the same functions the CLI calls:

>>> import autoresearch
>>> autoresearch.run_experiment(Path("."), "cache the lexer regex").record.verdict  # doctest: +SKIP
'keep'
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Imported on first use, so `import autoresearch` (and `autoresearch --help`) stays fast.
# name -> (module, attribute). A name never equals a submodule's: importing the submodule would
# replace the function on the package (so the status function is `session_status`).
_API = {
    "init_session": "autoresearch.scaffold",
    "InitOptions": "autoresearch.scaffold",
    "open_session": "autoresearch.session",
    "session_status": "autoresearch.status:status",
    "run_experiment": "autoresearch.experiment",
    "calibrate_noise": "autoresearch.calibrate:calibrate",
    "run_loop": "autoresearch.loop",
    "Budget": "autoresearch.loop",
    "compare": "autoresearch.stats",
    "Policy": "autoresearch.stats",
    "run_demo": "autoresearch.demo",
    "build_report": "autoresearch.faces.report",
    "write_report": "autoresearch.faces.report",
    "ProgressEvent": "autoresearch.progress",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    target = _API.get(name)
    if target is None:
        raise AttributeError(f"module 'autoresearch' has no attribute {name!r}")
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute or name)
