"""One console for the CLI: wide enough for result tables when output is not a terminal."""

from __future__ import annotations

from rich.console import Console


def make_console(stderr: bool = False) -> Console:
    console = Console(stderr=stderr)
    if not console.is_terminal:
        # CI logs and pipes default to 80 columns, which truncates every table.
        console = Console(stderr=stderr, width=140)
    return console
