"""`homage demo` on the terminal: render, index, query, say whether the versions were found."""

from __future__ import annotations

from pathlib import Path

from rich.progress import Progress

from homage.cli.output import console, errors, fail, hits_table


def run_demo(out: Path, n_versions: int, seed: int) -> None:
    from homage import pipeline
    from homage.demo import PIECES, render_demo_music
    from homage.embed import get_embedder
    from homage.errors import HomageError
    from homage.features.cache import FeatureCache

    music, catalog = out / "music", out / "catalog"
    console.rule("[bold]homage demo")
    console.print(
        f"1. Rendering {len(PIECES)} pieces from music21's corpus, {n_versions} versions each "
        "(instrument, tempo and key change; flac/mp3/ogg/wav) …"
    )
    try:
        with Progress(console=errors, transient=True) as progress:
            task = progress.add_task("rendering", total=len(PIECES) * n_versions)
            made = render_demo_music(music, n_versions=n_versions, seed=seed, on_file=lambda p: progress.advance(task))
        console.print(f"2. Indexing {music} into the catalog {catalog} …")
        report = pipeline.index_dir(
            music, catalog, embedder=get_embedder(), cache=FeatureCache(out / "cache"), workers=2, prune=True
        )
    except HomageError as exc:
        fail(str(exc))
    console.print(f"   {report.added + report.replaced + report.unchanged} recordings in the catalog")
    query_version = made[1]  # the first piece's second version: other instrument, tempo and key
    versions_of_query = {str(v.path.resolve()) for v in made if v.work == query_version.work} - {
        str(query_version.path.resolve())
    }
    console.print(f"3. Query: {query_version.title} — {query_version.params.describe()}  ({query_version.path})")
    result = pipeline.query(query_version.path, catalog, k=8, cache=FeatureCache(out / "cache"))
    console.print(hits_table(result, title="What is this a version of?", highlight=versions_of_query))

    ranks = [h.rank for h in result.hits if h.recording.path in versions_of_query]
    found_all = sorted(ranks) == list(range(1, len(versions_of_query) + 1))
    if found_all:
        n_others = len(made) - len(versions_of_query) - 1
        which = "its other version ranks" if len(ranks) == 1 else f"its {len(ranks)} other versions rank"
        console.print(
            f"[bold green]✓[/] {which} {', '.join(map(str, sorted(ranks)))} — above all {n_others} recordings"
            " of other pieces."
        )
    else:
        console.print(f"[bold yellow]![/] its other versions rank {sorted(ranks) or 'below the top 8'}.")
    console.print(
        "\nTry next:\n"
        f"  homage query {made[4].path} --catalog {catalog}\n"
        f"  homage compare {made[0].path} {made[2].path} --report {out / 'report'}\n"
        f"  homage info --catalog {catalog}"
    )
