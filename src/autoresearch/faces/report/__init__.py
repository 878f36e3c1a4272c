"""`autoresearch report`: report.md, the progress chart (PNG, SVG) and a self-contained report.html."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autoresearch.faces.report.data import (
    Group,
    ReportData,
    TotalGain,
    build_report,
    total_gain,
)
from autoresearch.session import Session

__all__ = ["Group", "ReportData", "ReportFiles", "TotalGain", "build_report", "total_gain",
           "write_report"]


@dataclass(frozen=True)
class ReportFiles:
    """What `write_report` wrote, and the data it wrote it from."""

    data: ReportData
    markdown: Path
    png: Path
    svg: Path
    html: Path

    def as_dict(self) -> dict[str, object]:
        return {"markdown": str(self.markdown), "png": str(self.png), "svg": str(self.svg),
                "html": str(self.html), "report": self.data.as_dict()}


def write_report(session: Session, out: Path, segment: int | None = None) -> ReportFiles:
    """Write the four files of a segment's report into `out` (created if missing)."""
    from autoresearch.faces.report.chart import write_chart
    from autoresearch.faces.report.html import render_html
    from autoresearch.faces.report.markdown import render_markdown

    data = build_report(session, segment)
    out.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(data, out / "report.md", out / "progress.png", out / "progress.svg",
                        out / "report.html")
    write_chart(data, files.png, files.svg)
    files.markdown.write_text(render_markdown(data, chart=files.png.name), encoding="utf-8")
    files.html.write_text(render_html(data), encoding="utf-8")
    return files
