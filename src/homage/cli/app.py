"""`homage` command line. Each command parses its options, calls one pipeline function, prints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from homage.cli.output import console, errors, fail, print_json

# Candidates `homage query` re-ranks by alignment unless told otherwise: on the versions corpus validation
# split the re-ranked MAP grows with K up to 100 (K = 10/25/50/100: 0.29/0.37/0.44/0.54); ≈ 1 s per query.
QUERY_RERANK = 100

app = typer.Typer(
    name="homage",
    help="Find which recordings are versions of one another: covers, live takes, re-arrangements.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

CatalogOpt = Annotated[Path, typer.Option("--catalog", "-c", help="Catalog folder.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]
CacheOpt = Annotated[
    Optional[Path], typer.Option("--cache", help="Feature cache folder [default: $HOMAGE_CACHE or ~/.cache/homage].")
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Compute features without reading or writing the cache.")]
MaxDurOpt = Annotated[float, typer.Option("--max-duration", help="Refuse files longer than this many minutes.")]


def _cache(cache: Path | None, no_cache: bool):
    from homage.features.cache import FeatureCache, default_cache_dir

    return FeatureCache(None if no_cache else (cache or default_cache_dir()))


@app.command()
def index(
    folder: Annotated[Path, typer.Argument(help="Folder of audio files (searched recursively), or one file.")],
    catalog: CatalogOpt,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="Parallel worker processes.")] = 2,
    prune: Annotated[bool, typer.Option("--prune", help="Remove catalogued files under FOLDER that are gone.")] = False,
    ann: Annotated[bool, typer.Option("--ann", help="New catalog: approximate (HNSW) index for large catalogs.")] = False,
    embedder: Annotated[Optional[str], typer.Option(help="Embedder for a new catalog [default: the shipped one].")] = None,
    max_duration: MaxDurOpt = 30.0,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    json_out: JsonOpt = False,
):
    """Add a folder's audio to a catalog (unchanged files are skipped; bad files are reported, not fatal)."""
    from homage import pipeline
    from homage.cli.output import FileProgress
    from homage.embed import get_embedder
    from homage.errors import HomageError

    with FileProgress("embedding", disable=json_out) as progress:
        try:
            report = pipeline.index_dir(
                folder,
                catalog,
                embedder=get_embedder(embedder) if embedder else None,
                cache=_cache(cache, no_cache),
                workers=workers,
                prune=prune,
                index_kind="hnsw" if ann else "flat",
                max_duration=max_duration * 60,
                on_start=lambda n: progress.stage("embedding", n),
                on_file=progress.item,
            )
        except HomageError as exc:
            fail(str(exc))
    if json_out:
        from dataclasses import asdict

        print_json({**asdict(report), "failed": [{"path": p, "reason": r} for p, r in report.failed]})
    else:
        from homage.cli.output import index_summary

        console.print(index_summary(report, str(catalog)), highlight=False)


@app.command()
def query(
    file: Annotated[Path, typer.Argument(help="The recording to look up.")],
    catalog: CatalogOpt,
    k: Annotated[int, typer.Option("-k", min=1, help="How many results.")] = 10,
    rerank: Annotated[
        int,
        typer.Option(
            "--rerank", min=0, help="Align the embedding's top K with the query and re-order them (0: embedding only)."
        ),
    ] = QUERY_RERANK,
    max_duration: MaxDurOpt = 30.0,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    json_out: JsonOpt = False,
):
    """What is this a version of? The catalog's most similar recordings, best first."""
    from homage import pipeline
    from homage.cli.output import hits_json, hits_table
    from homage.errors import HomageError

    try:
        result = pipeline.query(
            file, catalog, k=k, rerank=rerank, cache=_cache(cache, no_cache), max_duration=max_duration * 60
        )
    except HomageError as exc:
        fail(str(exc))
    if json_out:
        print_json({"catalog": str(catalog), **hits_json(result)})
    else:
        console.print(hits_table(result))


@app.command()
def compare(
    a: Annotated[Path, typer.Argument(help="First recording.")],
    b: Annotated[Path, typer.Argument(help="Second recording.")],
    embedder: Annotated[Optional[str], typer.Option(help="Embedder [default: the shipped one].")] = None,
    report: Annotated[
        Optional[Path], typer.Option("--report", help="Write alignment.png and report.md into this folder.")
    ] = None,
    max_duration: MaxDurOpt = 30.0,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    json_out: JsonOpt = False,
):
    """How similar are two recordings, and where do they match? (embedding similarity + pitch alignment)."""
    from homage import pipeline
    from homage.embed import get_embedder
    from homage.errors import HomageError

    try:
        result = pipeline.compare(
            a, b, embedder=get_embedder(embedder), cache=_cache(cache, no_cache), max_duration=max_duration * 60
        )
    except HomageError as exc:
        fail(str(exc))
    from homage.cli.output import comparison_json, print_comparison

    if json_out:
        print_json(comparison_json(result))
    else:
        print_comparison(result)
    if report:
        from homage.align.report import write_report

        path = write_report(result, report)
        (errors if json_out else console).print(f"report: {path}", highlight=False)


@app.command()
def info(catalog: CatalogOpt, json_out: JsonOpt = False):
    """What a catalog holds: recordings, hours, embedder, index."""
    from homage.catalog import Catalog
    from homage.cli.output import info_table
    from homage.errors import HomageError

    try:
        with Catalog(catalog) as cat:
            details = cat.info()
    except HomageError as exc:
        fail(str(exc))
    if json_out:
        print_json(details)
    else:
        console.print(info_table(details))


@app.command()
def remove(
    files: Annotated[list[Path], typer.Argument(help="Catalogued files to remove (paths as indexed).")],
    catalog: CatalogOpt,
):
    """Remove recordings from a catalog."""
    from homage.catalog import Catalog
    from homage.errors import HomageError

    try:
        with Catalog(catalog) as cat:
            removed = cat.remove(str(f.resolve()) for f in files)
    except HomageError as exc:
        fail(str(exc))
    console.print(f"removed {removed} of {len(files)} from {catalog}")


@app.command()
def evaluate(
    data: Annotated[Path, typer.Argument(help="Folder per work, CSV of path,work_id, or covers80 list folder.")],
    pipeline: Annotated[
        Optional[list[str]],
        typer.Option("--pipeline", "-p", help="Embedder name, or 'align' (alignment alone); repeat for several."),
    ] = None,
    json_file: Annotated[Optional[Path], typer.Option("--json", help="Also write the results as JSON here.")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write report.md and plots into this folder.")] = None,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="Parallel worker processes.")] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the random pairs and triplets.")] = 0,
    midi_seconds: Annotated[float, typer.Option(help="Seconds of each MIDI file to render.")] = 60.0,
    rerank: Annotated[
        int, typer.Option("--rerank", min=0, help="Also score each pipeline with its top K re-ranked by alignment.")
    ] = 0,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
):
    """Score pipelines on recordings grouped into works: MAP, MR1, P@10, top-1, and the original project's table."""
    from homage.cli.output import FileProgress, evaluation_table
    from homage.errors import HomageError
    from homage.evaluation.report import write_json, write_report
    from homage.evaluation.run import evaluate as run_evaluation

    with FileProgress("reading") as progress:
        try:
            results = run_evaluation(
                data, pipeline, cache=_cache(cache, no_cache), workers=workers, seed=seed, midi_seconds=midi_seconds,
                on_stage=progress.stage, on_item=progress.item, rerank=rerank,
            )
        except (HomageError, ValueError) as exc:
            fail(str(exc))
    console.print(evaluation_table(results, str(data)))
    if json_file:
        console.print(f"JSON: {write_json(results, str(data), json_file)}")
    if report:
        console.print(f"report: {write_report(results, str(data), report)}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the rendered music, cache and catalog.")] = Path(
        "homage-demo"
    ),
    versions: Annotated[int, typer.Option(min=2, max=6, help="Versions rendered per piece.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the versions' instruments, tempi and keys.")] = 0,
):
    """Render a few pieces in several versions, index them, and find one piece's versions from another."""
    from homage.cli.demo import run_demo

    run_demo(out, versions, seed)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": False})
def train(
    ctx: typer.Context,
    config: Annotated[Path, typer.Argument(help="Training config (YAML), e.g. configs/csi.yaml; then key=value overrides.")],
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/last.pt.")] = False,
    device: Annotated[Optional[str], typer.Option(help="cpu (default) or cuda.")] = None,
    init: Annotated[Optional[Path], typer.Option(help="ImageNet-format ResNet-18 weights (resnet18 only).")] = None,
):
    """Train a network on the versions corpus; checkpoints every epoch, curves and history in the config's OUT."""
    from homage.cli.output import FileProgress
    from homage.errors import HomageError
    from homage.models.train import load_config
    from homage.models.train import train as run_training

    overrides = list(ctx.args) + ([f"device={device}"] if device else []) + ([f"init={init}"] if init else [])
    try:
        cfg = load_config(config, overrides)
    except HomageError as exc:
        fail(str(exc))
    with FileProgress("features") as progress:
        def on_step(epoch: int, step: int, total: int, loss: float) -> None:
            if step == 1:
                progress.stage(f"epoch {epoch}", total)
            progress.advance(f"loss {loss:.4f}")

        def log(line: str) -> None:
            progress.progress.console.print(line, highlight=False)

        try:
            trainer = run_training(cfg, resume=resume, log=log, on_stage=progress.stage, on_item=progress.item, on_step=on_step)
        except (HomageError, ValueError) as exc:
            fail(str(exc))
    console.print(f"checkpoints, history and curves: {trainer.out} (best validation MAP {trainer.best_map:.3f})")


from homage.cli.data import data_app  # noqa: E402

app.add_typer(data_app, name="data")


def main() -> None:
    app()
