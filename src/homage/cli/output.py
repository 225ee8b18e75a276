"""Terminal and JSON rendering of pipeline results; no computation here."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def fail(message: str, code: int = 1):
    """Print one clear error line and leave with ``code``."""
    import typer

    errors.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def hits_json(result) -> dict:
    return {
        "query": result.query,
        "embedder": result.embedder,
        "results": [
            {
                "rank": h.rank,
                "similarity": round(h.score, 6),
                "path": h.recording.path,
                "title": h.recording.title,
                "artist": h.recording.artist,
                "album": h.recording.album,
                "duration": h.recording.duration,
                **_alignment_json(result.alignments.get(h.recording.path)),
            }
            for h in result.hits
        ],
    }


def _alignment_json(al) -> dict:
    if al is None:
        return {}
    from homage.align.verdict import load_calibration

    calibration = load_calibration()
    return {
        "alignment_score": round(al.score, 4),
        "probability": round(calibration.probability(al.score), 4),
        "verdict": calibration.verdict(al.score),
        "transposition_semitones": al.transposition,
        "tempo_ratio": round(al.tempo_ratio, 3),
    }


def hits_table(result, *, title: str | None = None, highlight: set[str] = frozenset()) -> Table:
    table = Table(title=title or f"Nearest versions of {result.query}", title_justify="left")
    table.add_column("rank", justify="right")
    table.add_column("similarity", justify="right")
    aligned = bool(getattr(result, "alignments", None))
    if aligned:
        for col in ("alignment", "verdict (p)", "key", "tempo"):
            table.add_column(col, justify="right")
    table.add_column("title / artist")
    table.add_column("path", overflow="fold")
    for h in result.hits:
        style = "bold green" if h.recording.path in highlight else None
        cells = [str(h.rank), f"{h.score:.3f}"]
        if aligned:
            info = _alignment_json(result.alignments.get(h.recording.path))
            cells += (
                [f"{info['alignment_score']:.2f}", f"{info['verdict']} ({info['probability']:.2f})",
                 f"{info['transposition_semitones']:+d}", f"×{info['tempo_ratio']:.2f}"]  # fmt: skip
                if info
                else ["", "", "", ""]
            )
        table.add_row(*cells, h.recording.label, _short(h.recording.path), style=style)
    return table


def _short(path: str) -> str:
    """A path relative to the working folder when it lies below it (tables stay narrow)."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def index_summary(report, catalog: str) -> str:
    parts = [f"{report.added} added", f"{report.replaced} updated", f"{report.unchanged} unchanged"]
    if report.removed:
        parts.append(f"{report.removed} removed")
    parts.append(f"[red]{len(report.failed)} failed[/]" if report.failed else "0 failed")
    return f"{report.found} audio files: " + ", ".join(parts) + f" in {report.seconds:.1f} s → {catalog}"


def info_table(info: dict) -> Table:
    table = Table(show_header=False, title="Catalog", title_justify="left")
    for key, value in info.items():
        table.add_row(key.replace("_", " "), "" if value is None else str(value))
    return table


def evaluation_table(results, source: str) -> Table:
    """One row per metric, one column per pipeline (fits a narrow terminal); the report's metric list."""
    from homage.evaluation.report import FIELD_TABLE, ORIGINAL_TABLE

    first = results[0]
    table = Table(title=f"{source}: {first.n_works} works, {first.n_recordings} recordings", title_justify="left")
    table.add_column("metric")
    for r in results:
        table.add_column(r.pipeline, justify="right")
    for key, label, fmt in FIELD_TABLE + ORIGINAL_TABLE:
        table.add_row(label, *[fmt.format(getattr(r, key)) for r in results])
    return table


class FileProgress:
    """A progress bar over files that prints each failure as one line naming the file and the reason."""

    def __init__(self, stage: str, *, disable: bool = False):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("[bold]{task.fields[stage]}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            TextColumn("{task.description}"), console=errors, transient=True, disable=disable,
        )
        self.task = self.progress.add_task("", total=None, stage=stage)

    def __enter__(self) -> FileProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def stage(self, stage: str, total: int) -> None:
        self.progress.reset(self.task, total=total, stage=stage)

    def advance(self, description: str) -> None:
        self.progress.update(self.task, advance=1, description=description)

    def item(self, path: str, error: str | None) -> None:
        self.advance(Path(path).name[-40:])
        if error:
            self.progress.console.print(f"[red]✗[/] {path}: {error}", highlight=False, soft_wrap=True)


def comparison_json(result) -> dict:
    al = result.alignment
    return {
        "a": result.a,
        "b": result.b,
        "embedder": result.embedder,
        "similarity": round(result.similarity, 6),
        "verdict": result.verdict,
        "probability": round(result.probability, 4),
        "alignment": {
            "score": round(al.score, 4),
            "transposition_semitones": al.transposition,
            "tempo_ratio": round(al.tempo_ratio, 3),
            "segments": [
                {"a_start": round(g.a_start, 2), "a_end": round(g.a_end, 2), "b_start": round(g.b_start, 2),
                 "b_end": round(g.b_end, 2), "strength": g.strength}
                for g in al.segments
            ],
        },
    }


def print_comparison(result) -> None:
    from homage.align.report import clock

    al = result.alignment
    colour = {"version": "green", "maybe": "yellow", "unrelated": "red"}[result.verdict]
    console.print(f"[bold {colour}]{result.verdict}[/] (probability {result.probability:.2f})", highlight=False)
    console.print(f"similarity [bold]{result.similarity:.3f}[/] ({result.embedder})", highlight=False)
    console.print(f"  A: {result.a}\n  B: {result.b}", highlight=False)
    console.print(
        f"alignment score [bold]{al.score:.2f}[/]; B is transposed {al.transposition:+d} semitones from A; "
        f"tempo ratio (B duration / A duration) {al.tempo_ratio:.2f}",
        highlight=False,
    )
    table = Table(title="Matched segments", title_justify="left")
    for col in ("#", "A from", "A to", "B from", "B to", "strength"):
        table.add_column(col, justify="right")
    for n, g in enumerate(al.segments, start=1):
        table.add_row(str(n), clock(g.a_start), clock(g.a_end), clock(g.b_start), clock(g.b_end), f"{g.strength:.0f}")
    console.print(table)
