"""The `autoresearch.toml` schema: load, validate, and write the harness configuration."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from autoresearch.errors import ConfigError
from autoresearch.model import Channel, Direction, Measure, SandboxMode

if TYPE_CHECKING:
    from autoresearch.stats import Policy

CONFIG_FILE = "autoresearch.toml"
BRIEF_FILE = "autoresearch.md"
BENCHMARK_FILE = "autoresearch.sh"
CHECKS_FILE = "autoresearch.checks.sh"
IDEAS_FILE = "autoresearch.ideas.md"
LEDGER_FILE = "autoresearch.jsonl"
STATE_DIR = ".autoresearch"
# `.gitattributes` can name filters that rewrite files on checkout, `.gitmodules` can point a
# path elsewhere, `.gitignore` hides files from a snapshot, `.github/` holds CI that runs code:
# no candidate changes git's own files, at any depth.
GIT_FILES = (".git*", "**/.git*")



class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionConfig(_Section):
    name: str

    @field_validator("name")
    @classmethod
    def _valid_branch_part(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", value) or ".." in value:
            raise ValueError(
                "must start with a letter or digit and hold only letters, digits, '.', '_' and '-'"
            )
        return value

    @property
    def branch(self) -> str:
        return f"autoresearch/{self.name}"


# The measures whose primary metric the harness makes itself, by the name it must carry, so a
# number is never shown under a name (or unit) the benchmark uses for something else.
HARNESS_METRICS = {Measure.CPU: ("cpu_s", "s"), Measure.INSTRUCTIONS: ("instructions", "instr"),
                   Measure.INSTRUCTIONS_CPU: ("instructions", "instr")}
HARNESS_METRICS_NAMES = frozenset(name for name, _ in HARNESS_METRICS.values())


class MetricConfig(_Section):
    name: str
    direction: Direction = Direction.LOWER
    unit: str = ""
    measure: Measure = Measure.WALL
    secondary: list[str] = Field(
        default_factory=list,
        description="METRIC lines the benchmark must print besides the primary, shown with it",
    )
    channel: Channel = Field(
        default=Channel.STDOUT,
        description="where the benchmark's METRIC lines are read: its stdout, or the file "
                    "$AUTORESEARCH_RESULT_FILE the harness makes for each run; the other is ignored",
    )

    @model_validator(mode="after")
    def _harness_metric_named_for_what_it_is(self) -> MetricConfig:
        if self.measure in HARNESS_METRICS:
            name, unit = HARNESS_METRICS[self.measure]
            if self.name != name:
                raise ValueError(f"with measure = {self.measure!r} the harness measures the primary "
                                 f"metric itself and it is named {name!r} (got {self.name!r}); the "
                                 "benchmark's own METRIC lines become secondary metrics")
            if self.direction is not Direction.LOWER:
                raise ValueError(f"{name} is a cost: direction must be 'lower'")
            if not self.unit:
                self.unit = unit
        return self

    @field_validator("name")
    @classmethod
    def _valid_metric_name(cls, value: str) -> str:
        if not re.fullmatch(r"[\w.µ]+", value):
            raise ValueError("a metric name holds only letters, digits, '_', '.' and 'µ'")
        return value


# A timeout is a finite number of seconds that a process timer can hold; a week is more than
# any benchmark, build or test suite this harness should wait for.
MAX_TIMEOUT_S = 7 * 24 * 3600.0
Seconds = Annotated[float, Field(gt=0, le=MAX_TIMEOUT_S, allow_inf_nan=False)]


class CommandsConfig(_Section):
    benchmark: str = f"./{BENCHMARK_FILE}"
    checks: str | None = None
    build: str | None = None
    timeout: Seconds | None = Field(
        default=None,
        description="seconds per benchmark run; unset = derived from the incumbent's own runs",
    )
    checks_timeout: Seconds = 300
    build_timeout: Seconds = 600


class ScopeConfig(_Section):
    include: list[str] = Field(
        default_factory=list, description="globs a candidate may change; empty = anything"
    )
    protect: list[str] = Field(
        default_factory=list,
        description="globs a candidate may not change, on top of the benchmark, checks and config",
    )
    link: list[str] = Field(
        default_factory=list,
        description="untracked paths (data, venvs) linked into both measured checkouts",
    )


def _valid_scratch(rel: str) -> str:
    clean = rel.strip().rstrip("/")
    if not clean or clean.startswith("/") or ".." in Path(clean).parts or re.search(r"[*?\[]", clean):
        raise ValueError(f"{rel!r} must be a directory inside the checkout: relative, no '..', no wildcards")
    return clean


class SandboxConfig(_Section):
    mode: SandboxMode = Field(
        default=SandboxMode.AUTO,
        description="auto: seal runs where bubblewrap works; on: refuse to run unsealed; off: never seal",
    )
    writable: list[Annotated[str, AfterValidator(_valid_scratch)]] = Field(
        default_factory=list,
        description="checkout-relative directories checks and benchmark runs may write; "
                    "emptied before every run",
    )
    readable: list[str] = Field(
        default_factory=list,
        description="more absolute paths sealed runs may read (under $HOME or /tmp, which are hidden)",
    )
    network: bool = Field(default=False, description="let sealed runs use the network")


def executor_address(address: str | None) -> str | None:
    """A Dask scheduler's address, or None for "local" (this machine)."""
    if address is None or address == "local":
        return None
    if not re.fullmatch(r"(tcp|tls)://[^\s/]+:\d+", address):
        raise ValueError(f"{address!r} is not a Dask scheduler address such as \"tcp://HOST:8786\" "
                         "(or \"local\" to measure on this machine)")
    return address


class ExecutorConfig(_Section):
    address: Annotated[str | None, AfterValidator(executor_address)] = Field(
        default=None,
        description="the Dask scheduler whose workers measure each experiment (tcp://HOST:PORT); "
                    "unset or \"local\" = this machine",
    )


class StatsConfig(_Section):
    alpha: float = Field(default=0.01, gt=0, lt=0.5)
    min_effect: float = Field(default=0.05, ge=0, lt=1)
    min_rounds: int = Field(default=4, ge=1)
    max_rounds: int = Field(default=24, ge=1)
    confirm_rounds: int = Field(default=0, ge=0,
                                description="extra rounds a keep must stay significant through")
    warmup: bool = True
    calibrated_for: Measure | None = Field(
        default=None, description="the measure whose noise set min_effect and max_rounds (calibrate --write)"
    )

    @field_validator("max_rounds")
    @classmethod
    def _max_at_least_min(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("min_rounds")
        if low is not None and value < low:
            raise ValueError(f"max_rounds ({value}) is below min_rounds ({low})")
        return value


class ConfirmConfig(_Section):
    env: dict[str, str] = Field(
        default_factory=lambda: {"AUTORESEARCH_ITEMS": "heldout"},
        description="environment of the benchmark in a held-out confirm: switch it to held-out inputs",
    )
    rounds: int = Field(default=10, ge=1, description="interleaved rounds of one confirm")
    max_heldout: int = Field(
        default=3, ge=0,
        description="held-out confirms per segment: more would make the held-out inputs a dev set",
    )


# "+5%": may grow by at most 5% (a cost: memory, allocations); "-5%": may drop by at most 5%
# (a benefit: throughput); "<= incumbent" / ">= incumbent": no worsening at all.
_GUARD = re.compile(
    r"^\s*(?:(?P<sign>[+-])(?P<pct>\d+(?:\.\d+)?)%|(?P<cmp><=|>=)\s*incumbent)\s*$"
)


def _valid_guard(rule: str) -> str:
    if not _GUARD.match(rule):
        raise ValueError(f'"{rule}" is not a guard: write "+5%", "-5%", "<= incumbent" or '
                         '">= incumbent"')
    return rule


GuardRule = Annotated[str, AfterValidator(_valid_guard)]


class Config(_Section):
    session: SessionConfig
    metric: MetricConfig
    commands: CommandsConfig = Field(default_factory=CommandsConfig)
    scope: ScopeConfig = Field(default_factory=ScopeConfig)
    stats: StatsConfig = Field(default_factory=StatsConfig)
    confirm: ConfirmConfig = Field(default_factory=ConfirmConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    guards: dict[str, GuardRule] = Field(
        default_factory=dict,
        description='secondary metric -> allowed worsening: "+5%", "-5%", "<= incumbent", ">= incumbent"',
    )

    def guard(self, name: str) -> tuple[Direction, float]:
        """Which way a guarded metric is better, and the relative worsening allowed.

        >>> c = Config.model_validate({"session": {"name": "s"}, "metric": {"name": "t"},
        ...     "guards": {"rss": "+5%", "tok_s": "-2%", "allocs": "<= incumbent"}})
        >>> [(str(d), tolerance) for d, tolerance in map(c.guard, ["rss", "tok_s", "allocs"])]
        [('lower', 0.05), ('higher', 0.02), ('lower', 0.0)]
        """
        match = _GUARD.match(self.guards[name])
        if match is None:  # validation rejects such a guard; a Config built without it can hold one
            raise ConfigError(f"guards.{name}: {self.guards[name]!r} is not a guard such as \"+5%\", "
                              "\"-2%\" or \"<= incumbent\"")
        if match["cmp"]:
            return (Direction.LOWER if match["cmp"] == "<=" else Direction.HIGHER), 0.0
        return (Direction.LOWER if match["sign"] == "+" else Direction.HIGHER), float(match["pct"]) / 100

    def policy(self, noise: float | None = None) -> Policy:
        """The statistics policy this configuration implies for its measure.

        `noise` is the calibrated sd-equivalent of a round's log-ratio for this measure, if any:
        it fixes the test's score scale (the test is exact with or without it).
        """
        from autoresearch.stats import Policy

        s = self.stats
        if self.metric.measure.deterministic:
            return Policy(alpha=s.alpha, min_effect=s.min_effect, min_rounds=1, max_rounds=1,
                          confirm_rounds=0, deterministic=True)
        return Policy(alpha=s.alpha, min_effect=s.min_effect, min_rounds=s.min_rounds,
                      max_rounds=s.max_rounds, confirm_rounds=s.confirm_rounds,
                      noise=noise if noise and noise > 0 else None)

    def wants_warmup(self) -> bool:
        """A discarded first run per arm, except for exact counts and unaffordable single runs."""
        return (self.stats.warmup and not self.metric.measure.deterministic
                and self.metric.measure is not Measure.SINGLE)

    def protected_paths(self) -> list[str]:
        """Globs no candidate may touch: the session's own files plus the user's list."""
        own = [CONFIG_FILE, LEDGER_FILE]
        for command in (self.commands.benchmark, self.commands.checks, self.commands.build):
            script = script_of(command)
            if script:
                own.append(script)
        own += GIT_FILES
        return own + [p for p in self.scope.protect if p not in own]


def script_of(command: str | None) -> str | None:
    """The repository file a command runs, if it starts with one (`./bench.sh --quick` → `bench.sh`)."""
    if not command:
        return None
    first = command.split()[0]
    if first.startswith("./"):
        return first[2:]
    return None


def load(repo: Path) -> Config:
    """Read and validate `autoresearch.toml` in `repo`; errors name the file and the line."""
    path = repo / CONFIG_FILE
    if not path.exists():
        raise ConfigError(
            f"{path} not found: this is not an autoresearch session. "
            "Start one with `autoresearch init --name NAME --metric METRIC`."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a text file (byte {exc.start} is not UTF-8); a TOML "
                          "config is UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(part) for part in err["loc"]]
            line = _line_of(text, loc)
            where = f"{path}:{line}" if line else str(path)
            problems.append(f"{where}: {'.'.join(loc) or 'config'}: {err['msg']}")
        raise ConfigError("\n".join(problems)) from None


def _line_of(text: str, loc: list[str]) -> int | None:
    """Best-effort line number of `[section] key` in TOML text, for error messages."""
    section, key = (loc[0], loc[1]) if len(loc) >= 2 else (None, loc[0] if loc else None)
    current = None
    section_line = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[([^\]]+)\]", line)
        if header:
            current = header[1].strip()
            if current == (section or key):
                section_line = number
            continue
        if key and current == section and re.match(rf"^\"?{re.escape(key)}\"?\s*=", line):
            return number
    return section_line


def dump(config: Config) -> str:
    """Render a config as commented TOML (the form `init` writes)."""
    c = config
    lines = [
        "# autoresearch harness configuration. The harness, not the agent, reads this file;",
        "# candidates may not change it.",
        "",
        "[session]",
        f"name = {_q(c.session.name)}",
        "",
        "[metric]",
        f"name = {_q(c.metric.name)}          # the primary METRIC the benchmark prints",
        f"direction = {_q(c.metric.direction)}        # lower | higher",
        f"unit = {_q(c.metric.unit)}",
        f"measure = {_q(c.metric.measure)}          "
        "# wall | cpu | instructions | instructions+cpu | single",
        f"channel = {_q(c.metric.channel)}        "
        "# stdout | file ($AUTORESEARCH_RESULT_FILE); the other is ignored",
    ]
    if c.metric.secondary:
        lines.append(f"secondary = {_list(c.metric.secondary)}   # METRIC lines the benchmark must print too")
    lines += [
        "",
        "[commands]",
        f"benchmark = {_q(c.commands.benchmark)}",
    ]
    lines.append(f"checks = {_q(c.commands.checks)}" if c.commands.checks
                 else '# checks = "./autoresearch.checks.sh"')
    lines.append(f"build = {_q(c.commands.build)}" if c.commands.build else '# build = "make"')
    lines.append(
        f"timeout = {c.commands.timeout:g}"
        if c.commands.timeout
        else "# timeout = 60        # seconds per run; unset = derived from the incumbent's runs"
    )
    lines += [
        f"checks_timeout = {c.commands.checks_timeout:g}",
        f"build_timeout = {c.commands.build_timeout:g}",
        "",
        "[scope]",
        f"include = {_list(c.scope.include)}   # globs a candidate may change; empty = anything",
        f"protect = {_list(c.scope.protect)}   "
        "# never changed by a candidate (benchmark, checks, this file always)",
        f"link = {_list(c.scope.link)}      # untracked paths linked into both measured checkouts",
        "",
        "[stats]",
        f"alpha = {c.stats.alpha:g}",
        f"min_effect = {c.stats.min_effect:g}      # smallest relative gain worth keeping",
        f"min_rounds = {c.stats.min_rounds}",
        f"max_rounds = {c.stats.max_rounds}       # including the confirmation rounds",
        f"confirm_rounds = {c.stats.confirm_rounds}    # extra rounds a keep must stay significant through",
        f"warmup = {'true' if c.stats.warmup else 'false'}",
    ]
    if c.stats.calibrated_for:
        lines.append(f"calibrated_for = {_q(c.stats.calibrated_for)}")
    lines += [
        "",
        "[confirm]                        # autoresearch confirm: baseline against incumbent, now",
        f"rounds = {c.confirm.rounds}",
        f"max_heldout = {c.confirm.max_heldout}                  # held-out confirms per segment",
        (f"env = {{ {', '.join(f'{k} = {_q(v)}' for k, v in c.confirm.env.items())} }}"
         "   # the benchmark's environment: switch to held-out inputs"),
        "",
        "[sandbox]",
        f"mode = {_q(c.sandbox.mode)}          "
        "# auto | on | off: seal build, checks and benchmark in bubblewrap",
        f"writable = {_list(c.sandbox.writable)}      "
        "# checkout dirs checks/benchmark may write; emptied before every run",
        f"readable = {_list(c.sandbox.readable)}      # more paths under $HOME or /tmp that runs may read",
        f"network = {'true' if c.sandbox.network else 'false'}",
        "",
        "[executor]",
        (f"address = {_q(c.executor.address)}" if c.executor.address
         else '# address = "tcp://scheduler:8786"   # Dask workers measure each experiment; unset = here'),
        "",
        "[guards]",
        '# peak_rss_mb = "+5%"          # may grow by at most 5%',
        '# allocations = "<= incumbent"  # may not grow at all',
        '# tokens_per_s = "-2%"         # may drop by at most 2%',
    ]
    lines += [f"{name} = {_q(rule)}" for name, rule in c.guards.items()]
    return "\n".join(lines) + "\n"


def set_key(text: str, section: str, key: str, value: str | None) -> str:
    r"""Set `key = value` (TOML source) in `[section]`, or remove the key when `value` is None.

    Comments and everything else in the file are kept, so a user's edits survive.

    >>> set_key("[a]\nx = 1  # why\n[b]\n", "a", "x", "2")
    '[a]\nx = 2  # why\n[b]\n'
    >>> set_key("[a]\nx = 1\n", "b", "y", '"z"')
    '[a]\nx = 1\n\n[b]\ny = "z"\n'
    >>> set_key("[a]\nx = 1\ny = 2\n", "a", "x", None)
    '[a]\ny = 2\n'
    """
    lines = text.splitlines()
    current = None
    last_in_section = None
    for i, line in enumerate(lines):
        header = re.match(r"^\s*\[([^\]]+)\]", line)
        if header:
            current = header[1].strip()
            if current == section:
                last_in_section = i
            continue
        if current != section:
            continue
        if line.strip():
            last_in_section = i
        if re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", line):
            if value is None:
                del lines[i]
            else:
                comment = re.search(r"(\s+#.*)$", line) if _outside_string(line) else None
                lines[i] = f"{key} = {value}" + (comment[1] if comment else "")
            return "\n".join(lines) + "\n"
    if value is None:
        return text
    if last_in_section is None:
        lines += ["", f"[{section}]", f"{key} = {value}"]
    else:
        lines.insert(last_in_section + 1, f"{key} = {value}")
    return "\n".join(lines) + "\n"


def _outside_string(line: str) -> bool:
    """Whether the line's first '#' starts a comment rather than sitting inside a quoted value."""
    before = line.split("#", 1)[0]
    return before.count('"') % 2 == 0 and before.count("'") % 2 == 0


def set_section(text: str, section: str, values: dict[str, object]) -> str:
    """`set_key` for each of `values` (an empty list removes its key)."""
    for key, value in values.items():
        text = set_key(text, section, key, toml_value(value) if value != [] else None)
    return text


def toml_value(value: object) -> str:
    """A string or a list of strings as TOML source.

    >>> toml_value("cpu"), toml_value(["a", "b"])
    ('"cpu"', '["a", "b"]')
    """
    return _list([str(v) for v in value]) if isinstance(value, list) else _q(str(value))


def _q(value: str | None) -> str:
    return '"' + (value or "").replace("\\", "\\\\").replace('"', '\\"') + '"'


def _list(values: list[str]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"
