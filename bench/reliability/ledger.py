"""The ledger of ``bench.reliability``: one row per fact, with what was expected; any failed row fails the run."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    section: str
    check: str
    value: Any
    expected: str
    ok: bool | None  # None: a measurement, not a check
    examples: list[str] = field(default_factory=list)


class Ledger:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    def note(self, section: str, check: str, value: Any, expected: str = "") -> None:
        """A measurement shown in the ledger that passes whatever its value."""
        self.rows.append(Row(section, check, value, expected or "(measured)", None))

    def expect(self, section: str, check: str, value: Any, ok: bool, expected: str,
               examples: list[str] | None = None) -> bool:
        self.rows.append(Row(section, check, value, expected, bool(ok), list(examples or [])[:5]))
        return bool(ok)

    def zero(self, section: str, check: str, items: list[Any] | int, examples: list[str] | None = None) -> bool:
        """A count that must be 0; ``items`` may be the offending items themselves (their first few are shown)."""
        count = items if isinstance(items, int) else len(items)
        shown = examples if examples is not None else ([] if isinstance(items, int) else [str(i) for i in items])
        return self.expect(section, check, count, count == 0, "0", shown)

    def at_least(self, section: str, check: str, value: float, minimum: float) -> bool:
        return self.expect(section, check, value, value >= minimum, f">= {minimum:g}")

    @property
    def ok(self) -> bool:
        return all(row.ok is not False for row in self.rows)

    @property
    def failed(self) -> list[Row]:
        return [row for row in self.rows if row.ok is False]

    def markdown(self) -> str:
        lines = []
        section = None
        for row in self.rows:
            if row.section != section:
                section = row.section
                lines += ["", f"### {section}", "", "| check | value | expected | |", "| --- | --- | --- | --- |"]
            mark = {True: "ok", False: "**FAIL**", None: ""}[row.ok]
            lines.append(f"| {_cell(row.check)} | {_cell(_fmt(row.value))} | {_cell(row.expected)} | {mark} |")
        failed = [row for row in self.rows if row.ok is False and row.examples]
        if failed:
            lines += ["", "### Examples of failed checks", ""]
            for row in failed:
                lines.append(f"- {row.section} / {row.check}:")
                lines += [f"  - `{_cell(example)[:400]}`" for example in row.examples]
        return "\n".join(lines).lstrip("\n")

    def as_json(self) -> list[dict[str, Any]]:
        return [{"section": r.section, "check": r.check, "value": _fmt(r.value), "expected": r.expected, "ok": r.ok,
                 "examples": r.examples} for r in self.rows]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if value < 1 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) or "-"
    return str(value)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").replace("`", "'")
