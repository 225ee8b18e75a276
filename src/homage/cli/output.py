"""Terminal rendering of the library's results: tables and lines, no computation."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from homage.cli.common import console


def matches_table(result, *, title: str | None = None, highlight: frozenset[str] = frozenset()) -> Table:
    table = Table(title=title or f"Nearest versions of {result.query} ({result.ranking})", title_justify="left")
    table.add_column("rank", justify="right")
    table.add_column("similarity", justify="right")
    aligned = any(m.alignment is not None for m in result.matches)
    worded = any(m.words is not None for m in result.matches)
    if aligned:
        for col in ("alignment", "verdict (p)", "key", "tempo"):
            table.add_column(col, justify="right")
    if worded:
        table.add_column("words", justify="right")
    table.add_column("title / artist")
    table.add_column("path", overflow="fold")
    for m in result.matches:
        cells = [str(m.rank), f"{m.similarity:.3f}"]
        if aligned:
            al = m.alignment
            cells += (
                ["", "", "", ""]
                if al is None
                else [
                    f"{al.score:.2f}",
                    f"{m.verdict} ({m.probability:.2f})",
                    f"{al.transposition:+d}",
                    f"×{al.tempo_ratio:.2f}",
                ]
            )
        if worded:
            cells.append("" if m.words is None else f"{m.words:.2f}")
        style = "bold green" if m.recording.path in highlight else None
        table.add_row(*cells, m.recording.label, _short(m.recording.path), style=style)
    return table


def _short(path: str) -> str:
    """A path relative to the working folder when it lies below it (tables stay narrow)."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def flags_table(report) -> Table:
    """The pairs a scan flagged: new file, catalogued recording, verdict, key, tempo, matched spans."""
    from homage.reports import clock

    table = Table(title=f"Flagged by a scan of {report.root} (threshold: {report.threshold})", title_justify="left")
    for col in ("new file", "catalogued recording", "verdict (p)", "key", "tempo", "matched (new = catalogued)"):
        table.add_column(col, overflow="fold")
    for f in report.flags:
        spans = "; ".join(
            f"{clock(g['a_start'])}–{clock(g['a_end'])} = {clock(g['b_start'])}–{clock(g['b_end'])}"
            for g in f.alignment["segments"]
        )
        table.add_row(
            _short(f.path),
            f.recording["label"],
            f"{f.verdict} ({f.probability:.2f})",
            f"{f.alignment['transposition_semitones']:+d}",
            f"×{f.alignment['tempo_ratio']:.2f}",
            spans,
        )
    return table


def index_summary(report, catalog: str) -> str:
    parts = [f"{report.added} added", f"{report.replaced} updated", f"{report.unchanged} unchanged"]
    if report.removed:
        parts.append(f"{report.removed} removed")
    if report.cohorts:
        parts.append(f"{report.cohorts} cohorts measured")
    if report.transcribed:
        parts.append(f"{report.transcribed} transcribed")
    if report.warnings:
        parts.append(f"[yellow]{len(report.warnings)} with warnings[/]")
    parts.append(f"[red]{len(report.failed)} failed[/]" if report.failed else "0 failed")
    return f"{report.found} audio files: " + ", ".join(parts) + f" in {report.seconds:.1f} s → {catalog}"


def info_table(info: dict) -> Table:
    table = Table(show_header=False, title="Catalog", title_justify="left")
    for key, value in info.items():
        table.add_row(key.replace("_", " "), "" if value is None else str(value))
    return table


def evaluation_table(results, source: str) -> Table:
    """One row per metric, one column per ranking (fits a narrow terminal); the report's metric list."""
    from homage.reports.evaluation import FIELD_TABLE, ORIGINAL_TABLE, kind_pairs, kind_rows

    first = results[0]
    table = Table(title=f"{source}: {first.n_works} works, {first.n_recordings} recordings", title_justify="left")
    table.add_column("metric")
    for r in results:
        table.add_column(r.ranking, justify="right")
    for key, label, fmt in FIELD_TABLE + ORIGINAL_TABLE:
        table.add_row(label, *[fmt.format(getattr(r, key)) for r in results])
    for row in kind_rows(results, kind_pairs(results)):
        table.add_row(f"MAP {row[0]}", *row[1:])
    return table


def print_comparison(result) -> None:
    from homage.reports import clock

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
    if result.words is None:
        console.print("words: no lyric evidence (not transcribed, or instrumental on one side)", highlight=False)
        return
    console.print(f"words similarity [bold]{result.words:.2f}[/]", highlight=False)
    lines = Table(title="Shared lines", title_justify="left")
    for col in ("A", "B", "words"):
        lines.add_column(col, justify="left" if col == "words" else "right")
    for line in result.lines:
        lines.add_row(
            f"{clock(line.a_start)}–{clock(line.a_end)}", f"{clock(line.b_start)}–{clock(line.b_end)}", line.text
        )
    console.print(lines)
