"""`homage demo`: render, index, query, and say whether the versions were found."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from homage.cli.common import LyricsOpt, command


@command
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the rendered music, cache and catalog.")] = Path(
        "homage-demo"
    ),
    versions: Annotated[int, typer.Option(min=2, max=6, help="Versions rendered per piece.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the versions' instruments, tempi and keys.")] = 0,
    lyrics: LyricsOpt = None,
):
    """Render a few pieces in several versions, index them, and find one piece's versions from another."""
    from rich.progress import Progress

    from homage.cli.common import console, errors
    from homage.cli.output import matches_table
    from homage.demo import PIECES, run_demo

    console.rule("[bold]homage demo")
    steps = iter(range(1, 10))
    with Progress(console=errors, transient=True) as progress:
        task = progress.add_task("rendering", total=len(PIECES) * versions)
        outcome = run_demo(
            out,
            n_versions=versions,
            seed=seed,
            words=lyrics,
            on_item=lambda path, error: progress.advance(task),
            on_stage=lambda text: console.print(f"{next(steps)}. {text} …"),
        )
    query = outcome.query
    console.print(f"{next(steps)}. Query: {query.title} — {query.params.describe()}  ({query.path})")
    console.print(matches_table(outcome.result, title="What is this a version of?", highlight=outcome.expected))
    if outcome.found_all:
        others = len(outcome.versions) - len(outcome.expected) - 1
        which = (
            "its other version ranks" if len(outcome.ranks) == 1 else f"its {len(outcome.ranks)} other versions rank"
        )
        console.print(
            f"[bold green]✓[/] {which} {', '.join(map(str, outcome.ranks))} — above all {others} recordings"
            " of other pieces."
        )
    else:
        console.print(f"[bold yellow]![/] its other versions rank {outcome.ranks or 'below the top 8'}.")
    made = outcome.versions
    console.print(
        "\nTry next:\n"
        f"  homage query {made[4].path} --catalog {outcome.catalog}\n"
        f"  homage compare {made[0].path} {made[2].path} --report {Path(out) / 'report'}\n"
        f"  homage info --catalog {outcome.catalog}"
    )
