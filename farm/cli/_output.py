"""The CLI's output: aligned text tables for people, one JSON document for programs, one progress bar."""

from __future__ import annotations

import sys
from datetime import datetime

from farm.records import dumps_document


def print_json(doc, *, file=None) -> None:
    """One JSON document on stdout (dates as ISO 8601 strings)."""
    print(dumps_document(doc), file=file or sys.stdout)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    text = str(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def format_table(rows: list[dict], columns: list[str] | None = None) -> str:
    """An aligned plain-text table of ``rows`` (all columns of the first row by default)."""
    if not rows:
        return "(no rows)"
    columns = columns or list(rows[0])
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


class Progress:
    """The one progress bar of every command: on stderr, only on a terminal, never with --json.

    ``update(done, total)`` moves it; ``note(text)`` prints a line above it; ``status(text)``
    sets the text after the counts. A disabled bar (``quiet``) does nothing. Use as a
    context manager so the bar is closed however the command ends::

        with Progress("render", unit="job", total=3, quiet=args.json) as bar:
            bar.update(1, 3)
    """

    def __init__(self, desc: str, *, unit: str, total: int | None = None, quiet: bool = False,
                 unit_scale: bool = False) -> None:
        self._bar = None
        if not quiet:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit=unit, desc=desc, disable=None, file=sys.stderr, dynamic_ncols=True,
                             unit_scale=unit_scale, unit_divisor=1024 if unit_scale else 1000)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def active(self) -> bool:
        return self._bar is not None

    def update(self, done: int, total: int | None = None) -> None:
        """Set the count to ``done`` (of ``total``, when it changed)."""
        bar = self._bar
        if bar is None:
            return
        if total is not None and bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)

    def step(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def status(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text)

    def note(self, text: str) -> None:
        """A line on stderr that does not tear the bar (printed even when the bar is off)."""
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
