"""What a person watching `loop` sees: a live rich view on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

from autoresearch.faces.render import ratio_with_interval
from autoresearch.faces.report.fmt import duration, number, shorten
from autoresearch.progress import MEASURING, ProgressEvent
from autoresearch.session import Session
from autoresearch.status import status

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.panel import Panel
    from rich.text import Text

    from autoresearch.experiment import ExperimentResult
    from autoresearch.loop import Budget, LoopState


def make_view(session: Session, budget: Budget, json_out: bool = False) -> PlainView | LiveView:
    """A live view on a terminal, plain log lines when output goes to a file or a pipe.

    With `json_out` stdout is reserved for the JSON summary, so progress goes to stderr.
    """
    if json_out:
        return PlainView(session, sys.stderr)
    return LiveView(session, budget) if sys.stdout.isatty() else PlainView(session, sys.stdout)


def verdict_line(result: ExperimentResult) -> str:
    r = result.record
    ratio = f" ratio {ratio_with_interval(r)}" if r.ratio and r.ci else ""
    return f"run {r.run} {r.verdict.upper()}: {r.description} — {r.reason}{ratio}"


class PlainView:
    """One line per event, for logs and pipes."""

    def __init__(self, session: Session, stream: TextIO):
        self.session = session
        self.stream = stream

    def _print(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=self.stream, flush=True)

    def phase(self, event: ProgressEvent) -> None:
        # one line per step, not per round: a log of a night stays readable
        if event.phase in ("proposing", "checks", "warm-up", "build") or (
                event.phase == MEASURING and event.round == 1 and not event.finished):
            ahead = event.worker and not event.run  # measured on a worker before its turn
            self._print(f"{event.description} on {event.worker}: {event}" if ahead else str(event))

    def experiment(self, result: ExperimentResult, state: LoopState) -> None:
        self._print(verdict_line(result))

    def message(self, text: str) -> None:
        self._print(text)

    def close(self) -> None:
        pass


class LiveView:
    """A rich Live panel: phase, baseline → incumbent, recent experiments, budget used."""

    def __init__(self, session: Session, budget: Budget, console: Console | None = None):
        from rich.console import Console
        from rich.live import Live

        self.session = session
        self.budget = budget
        self.current = ProgressEvent("starting")
        self.remote: dict[str, ProgressEvent] = {}  # measurements under way on workers, by candidate
        self.messages: list[str] = []
        self.state: LoopState | None = None
        self.console = console or Console()
        self.live = Live(self._render(), console=self.console, refresh_per_second=4, transient=False)
        self.live.start()

    def phase(self, event: ProgressEvent) -> None:
        if event.worker and not event.run:  # measured on a worker before its turn to be judged
            self.remote[event.description] = event
        else:
            self.current = event
        self.live.update(self._render())

    def experiment(self, result: ExperimentResult, state: LoopState) -> None:
        self.state = state
        r = result.record
        self.remote.pop(f"proposer {r.slot}: {r.description}", None)
        self.live.update(self._render())

    def message(self, text: str) -> None:
        self.messages = ([*self.messages, text])[-3:]
        self.live.update(self._render())

    def close(self) -> None:
        self.live.update(self._render())
        self.live.stop()

    def _render(self) -> Panel:
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        st = status(self.session, check_workspace=False)
        head = Text()
        head.append(f"{st.session}  ", style="bold")
        head.append(f"{st.metric} ({st.direction} is better)\n")
        if st.baseline is not None:
            pct = st.improvement_pct or 0.0
            head.append(f"baseline {number(st.baseline, st.unit)}  gain (keeps' paired ratios) ")
            head.append(f"{pct:+.1f}%\n", style="green" if pct > 0 else "")
        head.append_text(self._now())
        for event in self.remote.values():
            head.append_text(self._line(Text(f"on {event.worker}: ", style="cyan"), event))
        table = Table(expand=True, show_edge=False)
        for column in ("run", "verdict", "reason", "description"):
            table.add_column(column, overflow="fold")
        for r in st.runs[-8:]:
            other = "yellow" if r.verdict == "discard" else "red"
            color = {"keep": "green", "baseline": "blue"}.get(r.verdict, other)
            table.add_row(str(r.run), Text(r.verdict, style=color), Text(r.reason), Text(r.description))
        parts: list[RenderableType] = [head, table, Text(self._budget_line(), style="dim")]
        parts += [Text(m, style="yellow") for m in self.messages]
        return Panel(Group(*parts), title="autoresearch loop", border_style="blue")

    def _now(self) -> Text:
        """The candidate being judged, its step, and the running estimate while measuring."""
        from rich.text import Text

        e = self.current
        line = Text("now: ", style="cyan")
        if e.run:
            line.append(f"run {e.run} ", style="bold cyan")
        return self._line(line, e)

    def _line(self, line: Text, e: ProgressEvent) -> Text:
        """`line` followed by the event's candidate, step and running estimate."""
        if e.description:
            line.append(shorten(e.description, 70) + " · ", style="cyan")
        if e.worker and e.run:
            line.append(f"on {e.worker} · ", style="cyan")
        if e.phase != MEASURING:
            return line.append(str(e) + "\n", style="cyan")
        line.append(f"round {e.round}/{e.max_rounds}", style="cyan")
        gain, interval = e.estimate, e.interval
        if gain is not None:
            low, high = interval or (gain, gain)
            color = "green" if low > 0 else "red" if high < 0 else "yellow"
            line.append("  estimate ")
            line.append(f"{gain:+.1%}" + (f" [{low:+.1%}, {high:+.1%}]" if interval else ""),
                        style=color)
        if e.seconds_left:
            line.append(f"  ≤ {duration(e.seconds_left)} left", style="dim")
        return line.append("\n")

    def _budget_line(self) -> str:
        s, b = self.state, self.budget
        n = s.experiments if s else 0
        hours = s.hours if s else 0.0
        bits = [f"experiments {n}" + (f"/{b.max_experiments}" if b.max_experiments else ""),
                f"time {hours * 60:.0f} min" + (f"/{b.max_hours * 60:.0f}" if b.max_hours else "")]
        if s and (s.spent_usd or b.max_usd):
            bits.append(f"${s.spent_usd:.2f}" + (f"/{b.max_usd:g}" if b.max_usd else ""))
        if s and b.patience:
            bits.append(f"without keep {s.since_keep}/{b.patience}")
        return "  ·  ".join(bits)
