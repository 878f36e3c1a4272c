"""`report.html` and the dashboard page: one jinja2 template, plotly.js embedded, no network needed."""

from __future__ import annotations

import json
import time
from functools import lru_cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from autoresearch.faces.report import fmt
from autoresearch.faces.report.data import ReportData

if TYPE_CHECKING:
    from jinja2 import Template


def render_html(data: ReportData, live: bool = False) -> str:
    """A self-contained page: every script inline, so it opens from a file with no network."""
    from markupsafe import Markup

    page: str = _template().render(
        title=f"{data.session} — autoresearch", data=data, live=live,
        written=time.strftime("%Y-%m-%d %H:%M"),
        plotly_js=Markup(plotly_js()), page_js=Markup(page_js()),
        data_json=Markup(script_json(data.as_dict())),
        pct=fmt.pct, number=fmt.number, duration=fmt.duration, tokens=fmt.tokens,
    )
    return page


def script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no `</script>` or `<!--` can end it early.

    >>> script_json({"d": "</script>"})
    '{"d": "<\\\\/script>"}'
    """
    return json.dumps(value, ensure_ascii=False, default=str).replace("</", "<\\/").replace(
        "<!--", "<\\!--")


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """The plotly.js bundle shipped inside the plotly package (several MB; read once)."""
    from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

    return str(get_plotlyjs())


def page_js() -> str:
    return files(__package__).joinpath("templates/page.js").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _template() -> Template:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("autoresearch.faces.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), undefined=StrictUndefined)
    return env.get_template("page.html.j2")
