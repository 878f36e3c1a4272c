"""Numbers as a person reads them, the same in the markdown, the charts, the page and the terminal."""

from __future__ import annotations

import math

from autoresearch.progress import duration as duration  # one rendering of a duration for every face


def pct(x: float | None, signed: bool = True) -> str:
    """A relative change: `0.123` → "+12.3%".

    >>> pct(0.123), pct(-0.05), pct(None)
    ('+12.3%', '-5.0%', '')
    """
    if x is None:
        return ""
    return f"{x:+.1%}" if signed else f"{x:.1%}"


def interval(ci: tuple[float, float] | None) -> str:
    """A gain interval; an exact measurement (instruction counts) has none to show.

    >>> interval((0.1, 0.15)), interval((0.2, 0.2)), interval(None), interval((-math.inf, 1.0))
    ('[+10.0%, +15.0%]', 'exact', '', '(unbounded interval)')
    """
    if ci is None:
        return ""
    if not all(map(math.isfinite, ci)):
        return "(unbounded interval)"
    if ci[0] == ci[1]:
        return "exact"
    return f"[{pct(ci[0])}, {pct(ci[1])}]"


def gain(value: float | None, ci: tuple[float, float] | None) -> str:
    """A gain with its interval: "+12.3% [+10.0%, +14.2%]".

    >>> gain(0.123, (0.1, 0.142))
    '+12.3% [+10.0%, +14.2%]'
    """
    return f"{pct(value)} {interval(ci)}".strip()


def number(x: float | None, unit: str = "") -> str:
    """A metric value with its unit: `1234.5678, "µs"` → "1234.57 µs".

    >>> number(1234.5678, "µs"), number(2.0), number(None)
    ('1234.57 µs', '2', '—')
    """
    if x is None:
        return "—"
    return f"{x:.6g} {unit}" if unit else f"{x:.6g}"


def shorten(text: str, width: int) -> str:
    """One line of at most `width` characters.

    >>> shorten("cache the compiled regex in the lexer", 22)
    'cache the compiled …'
    """
    line = " ".join(text.split())
    if len(line) <= width:
        return line
    cut = line[: width - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > width * 0.6 else cut).rstrip(" ,;:") + " …"


def count(n: int, word: str) -> str:
    """`1, "keep"` → "1 keep", `2, "keep"` → "2 keeps".

    >>> count(1, "keep"), count(3, "experiment")
    ('1 keep', '3 experiments')
    """
    return f"{n} {word}" + ("" if n == 1 else "s")


def tokens(n: int) -> str:
    """`12345` → "12.3k".

    >>> tokens(950), tokens(12345), tokens(2_500_000)
    ('950', '12.3k', '2.50M')
    """
    if n < 1000:
        return str(n)
    return f"{n / 1000:.1f}k" if n < 1_000_000 else f"{n / 1_000_000:.2f}M"


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], higher_is_better: bool = True) -> str:
    """Values as a line of block characters, taller = better.

    >>> sparkline([100, 100, 80, 80, 50], higher_is_better=False)
    '▁▁▄▄█'
    >>> sparkline([3, 3]), sparkline([])
    ('▁▁', '')
    """
    if not values:
        return ""
    lo, hi = min(values), max(values)
    if hi == lo:
        return SPARKS[0] * len(values)
    top = len(SPARKS) - 1
    heights = [(v - lo) / (hi - lo) for v in values]
    return "".join(SPARKS[round(top * (h if higher_is_better else 1 - h))] for h in heights)
