"""What every bench script shares: its command line (its docstring as help, ``--markdown``), how it shows a
table (Rich in a terminal, Markdown with ``--markdown``), and timing.

Benches run as modules from the repository's root: ``.venv/bin/python -m bench.speed.align_speed``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

HOMAGE = [sys.executable, "-c", "from homage.cli.app import main; main()"]  # a command in its own process


def run_homage(args: list[str], *, env: dict, timeout: float) -> subprocess.CompletedProcess:
    """``homage ARGS`` in a new process, as a user runs it; its output captured as text."""
    return subprocess.run([*HOMAGE, *args], capture_output=True, text=True, timeout=timeout, env=env)


def arguments(doc: str) -> argparse.ArgumentParser:
    """A bench's parser: ``doc`` as its help, and ``--markdown``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", action="store_true", help="print tables as Markdown (for docs/results.md)")
    return parser


def show(table: Table, markdown: bool = False, width: int = 200) -> None:
    """Print ``table``: as Rich draws it, or as a Markdown table under its title."""
    if not markdown:
        Console(width=width).print(table)
        return
    cells = [[_plain(cell) for cell in column.cells] for column in table.columns]
    lines = [f"### {_plain(table.title)}", ""] if table.title else []
    lines.append("| " + " | ".join(_plain(c.header) for c in table.columns) + " |")
    lines.append("|" + "|".join("---" if c.justify == "left" else "---:" for c in table.columns) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in zip(*cells)]
    print("\n".join(lines) + "\n")


def _plain(cell) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def median_time(fn, repeats: int) -> tuple[float, object]:
    """Median seconds of ``repeats`` calls of ``fn`` after one untimed call (numba compiles, caches fill),
    and the last call's result."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def children(pid: int) -> list[int]:
    """The process ids of ``pid``'s children (Linux /proc)."""
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in found.read_text().split()] if found.exists() else []


def resident_mb(pid: int, *, descendants: bool = False) -> float:
    """Resident memory of process ``pid`` (with ``descendants``: and of all its descendants); 0 when gone."""
    total, pending = 0.0, [pid]
    while pending:
        one = pending.pop()
        try:
            lines = Path(f"/proc/{one}/status").read_text().splitlines()
            pending += children(one) if descendants else []
        except FileNotFoundError:
            continue
        total += sum(int(line.split()[1]) / 1024 for line in lines if line.startswith("VmRSS:"))
    return total
