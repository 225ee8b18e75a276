"""`homage evaluate`: score rankings on recordings grouped into works."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from homage.cli.common import CacheOpt, NoCacheOpt, RayAddressOpt, RayOpt, WorkersOpt, command


@command
def evaluate(
    data: Annotated[
        Path, typer.Argument(help="Folder per work, CSV of path,work_id, corpus, or covers80 list folder.")
    ],
    ranking: Annotated[
        list[str] | None,
        typer.Option(
            "--ranking",
            "-p",
            help="csi, csi+rerank50, ftm2d, a checkpoint, or 'align' (alignment alone); "
            "csi+rerank100+lyrics (the words too); repeat for several "
            "[default: csi+rerank100+lyrics, what `query` does].",
        ),
    ] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Also write the results as JSON here.")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write report.md and plots into this folder.")] = None,
    workers: WorkersOpt = 2,
    seed: Annotated[int, typer.Option(help="Seed of the random pairs and triplets.")] = 0,
    midi_seconds: Annotated[float, typer.Option(help="Seconds of each MIDI file to render.")] = 60.0,
    rerank: Annotated[
        int, typer.Option("--rerank", min=0, help="Also score each embedding-alone ranking with its top K re-ranked.")
    ] = 0,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    ray: RayOpt = False,
    ray_address: RayAddressOpt = None,
):
    """Score rankings on recordings grouped into works: MAP, MR1, P@10, top-1, and the original project's table."""
    from homage import pipeline as homage_pipeline
    from homage.cli.common import FileProgress, console, executor, feature_cache
    from homage.cli.output import evaluation_table
    from homage.reports import write_evaluation_json, write_evaluation_report

    with FileProgress("reading") as progress:
        results = homage_pipeline.evaluate(
            data,
            ranking,
            rerank_depth=rerank,
            cache=feature_cache(cache, no_cache),
            workers=executor(workers, ray, ray_address),
            seed=seed,
            midi_seconds=midi_seconds,
            on_stage=progress.stage,
            on_item=progress.item,
        )
    console.print(evaluation_table(results, str(data)))
    if json_file:
        console.print(f"JSON: {write_evaluation_json(results, str(data), json_file)}")
    if report:
        console.print(f"report: {write_evaluation_report(results, str(data), report)}")
