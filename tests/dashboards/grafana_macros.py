"""What Grafana and its ClickHouse plugin do to a panel's SQL before ClickHouse sees it.

Grafana cannot run here, so this module does the same steps, in the same order, from the
plugin's source (grafana/clickhouse-datasource 4.x) and Grafana's template service:

1. the plugin's frontend `applyConditionalAll`: each `$__conditionalAll(cond, $var)`, from the
   last to the first, becomes `cond`, or `1=1` when the variable's current value is `$__all`
   or empty (a multi-value variable's value is its list joined with ",", JavaScript's
   `toString`); the second argument is looked up by the name after its `$`;
2. Grafana's variable interpolation: `${name:singlequote}` quotes each value ('a','b'; a
   quote inside becomes \\'), "All" without a custom all value means every option;
   `${name}` and `$name` give the raw value (a list joined with ","); `${__from}`/`${__to}`
   are the range in epoch milliseconds, `${__interval_ms}` the interval;
3. the plugin's backend macros (pkg/macros): `$__timeFilter(c)` is
   `c >= toDateTime(<from s>) AND c <= toDateTime(<to s>)`; `$__timeFilter_ms(c)` the same with
   `fromUnixTimestamp64Milli(<ms>)`; `$__fromTime`/`$__toTime` are `toDateTime(<s>)`,
   `$__fromTime_ms`/`$__toTime_ms` `fromUnixTimestamp64Milli(<ms>)`; `$__timeInterval(c)` is
   `toStartOfInterval(toDateTime(c), INTERVAL <max(interval s, 1)> second)`,
   `$__timeInterval_ms(c)` `toStartOfInterval(toDateTime64(c, 3), INTERVAL <ms> millisecond)`;
   `$__interval_s` the interval in seconds.

An unknown `$__` macro or variable left in the text is an error here, so a typo fails a test
instead of reaching ClickHouse as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

ALL = "$__all"


@dataclass
class Variable:
    """A dashboard variable's state: its options and what is selected (`[ALL]` for All)."""

    selected: list[str]
    options: list[str] = field(default_factory=list)
    multi: bool = True

    @property
    def is_all(self) -> bool:
        return self.selected == [ALL]

    def values(self) -> list[str]:
        return list(self.options) if self.is_all else list(self.selected)

    def current_value_string(self) -> str:
        # The plugin reads `current.value.toString()`: an array joins with ",".
        return ",".join(self.selected) if self.multi else (self.selected[0] if self.selected else "")


@dataclass
class Context:
    """A dashboard's time range, interval and variables, as one panel refresh sees them."""

    start: datetime
    end: datetime
    interval_ms: int = 3_600_000
    variables: dict[str, Variable] = field(default_factory=dict)

    @property
    def from_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def to_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


def macro_args(text: str, open_paren: int) -> tuple[list[str], int]:
    """The comma-separated arguments of the call whose "(" is at `open_paren`, and the index
    just past its ")"; commas inside nested parentheses or brackets do not split."""
    depth = 0
    args: list[str] = []
    current = ""
    for i in range(open_paren, len(text)):
        char = text[i]
        if char in "([":
            depth += 1
            if depth == 1:
                continue
        elif char in ")]":
            depth -= 1
            if depth == 0:
                args.append(current)
                return args, i + 1
        elif char == "," and depth == 1:
            args.append(current)
            current = ""
            continue
        current += char
    raise ValueError(f"unbalanced parentheses after position {open_paren}: {text[open_paren:open_paren + 80]!r}")


def apply_conditional_all(sql: str, ctx: Context) -> str:
    macro = "$__conditionalAll("
    index = sql.rfind(macro)
    while index != -1:
        args, end = macro_args(sql, index + len(macro) - 1)
        if len(args) != 2:
            raise ValueError(f"$__conditionalAll needs 2 arguments, got {args}")
        name = args[1].strip()
        if not name.startswith("$") or name.startswith("${"):
            raise ValueError(f"the plugin finds the variable only as a bare $name, got {name!r}")
        variable = ctx.variables.get(name[1:])
        if variable is None:
            raise ValueError(f"unknown variable {name}")
        value = variable.current_value_string()
        phrase = "1=1" if value in ("", ALL) else args[0]
        sql = sql[:index] + phrase + sql[end:]
        index = sql.rfind(macro, 0, index)
    return sql


def _singlequote(value: str) -> str:
    return "'" + value.replace("'", "\\'") + "'"


_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")


def interpolate(sql: str, ctx: Context) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        fmt = match.group(2)
        if name.startswith("__"):
            globals_ = {"__from": str(ctx.from_ms), "__to": str(ctx.to_ms), "__interval_ms": str(ctx.interval_ms)}
            return globals_.get(name, match.group(0))  # the plugin's backend macros come later
        variable = ctx.variables.get(name)
        if variable is None:
            raise ValueError(f"unknown variable {match.group(0)}")
        values = variable.values()
        if fmt == "singlequote":
            return ",".join(_singlequote(v) for v in values)
        if fmt is None:
            return ",".join(values)
        raise ValueError(f"format {fmt!r} is not emulated")

    return _VARIABLE.sub(replace, sql)


def apply_backend_macros(sql: str, ctx: Context) -> str:
    from_s, to_s = ctx.from_ms // 1000, ctx.to_ms // 1000
    interval_s = max(ctx.interval_ms // 1000, 1)
    functions = {
        "$__timeFilter_ms": lambda c: f"{c} >= fromUnixTimestamp64Milli({ctx.from_ms}) AND {c} <= fromUnixTimestamp64Milli({ctx.to_ms})",
        "$__timeFilter": lambda c: f"{c} >= toDateTime({from_s}) AND {c} <= toDateTime({to_s})",
        "$__timeInterval_ms": lambda c: f"toStartOfInterval(toDateTime64({c}, 3), INTERVAL {ctx.interval_ms} millisecond)",
        "$__timeInterval": lambda c: f"toStartOfInterval(toDateTime({c}), INTERVAL {interval_s} second)",
    }
    for name, expand in functions.items():  # the _ms forms first: they start like the others
        while (index := sql.find(name + "(")) != -1:
            args, end = macro_args(sql, index + len(name))
            if len(args) != 1:
                raise ValueError(f"{name} takes one column, got {args}")
            sql = sql[:index] + expand(args[0].strip()) + sql[end:]
    constants = {
        "$__fromTime_ms": f"fromUnixTimestamp64Milli({ctx.from_ms})",
        "$__toTime_ms": f"fromUnixTimestamp64Milli({ctx.to_ms})",
        "$__fromTime": f"toDateTime({from_s})",
        "$__toTime": f"toDateTime({to_s})",
        "$__interval_s": str(interval_s),
    }
    for name, value in constants.items():
        sql = sql.replace(name, value)
    if "$" in sql.replace("'$__all'", ""):
        raise ValueError(f"unexpanded macro or variable left in: {sql}")
    return sql


def expand(sql: str, ctx: Context) -> str:
    """`sql` as ClickHouse receives it from Grafana with `ctx`."""
    return apply_backend_macros(interpolate(apply_conditional_all(sql, ctx), ctx), ctx)
