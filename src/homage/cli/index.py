"""`homage index`: add a folder's audio to a catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from homage.cli.common import (
    CacheOpt,
    CatalogOpt,
    EmbedderOpt,
    JsonOpt,
    LyricsModelOpt,
    LyricsOpt,
    MaxMinutesOpt,
    NoCacheOpt,
    RayAddressOpt,
    RayOpt,
    WorkersOpt,
    command,
)


@command
def index(
    folder: Annotated[
        Path, typer.Argument(help="Folder of audio files (searched recursively), or one file.", readable=False)
    ],
    catalog: CatalogOpt,
    workers: WorkersOpt = 2,
    prune: Annotated[bool, typer.Option("--prune", help="Remove catalogued files under FOLDER that are gone.")] = False,
    cohorts: Annotated[
        bool,
        typer.Option(
            "--cohorts/--no-cohorts",
            help="Measure each new recording's cohort for "
            "re-ranking (one query's alignments each); --no-cohorts leaves them to a later run.",
        ),
    ] = True,
    ann: Annotated[
        str,
        typer.Option(
            "--ann",
            help="New catalog's index: auto (exact below 100k recordings, IVF-PQ "
            "from there), flat (exact), hnsw or ivfpq.",
        ),
    ] = "auto",
    embedder: EmbedderOpt = None,
    lyrics: LyricsOpt = None,
    lyrics_model: LyricsModelOpt = None,
    max_minutes: MaxMinutesOpt = 30.0,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    ray: RayOpt = False,
    ray_address: RayAddressOpt = None,
    json_out: JsonOpt = False,
):
    """Add a folder's audio to a catalog (unchanged files are skipped; bad files are reported, not fatal)."""
    from homage import pipeline
    from homage.cli.common import FileProgress, console, executor, feature_cache, minutes, print_json

    with FileProgress("embedding", disable=json_out) as progress:
        report = pipeline.index_dir(
            folder,
            catalog,
            embedder=embedder,
            cache=feature_cache(cache, no_cache),
            workers=executor(workers, ray, ray_address),
            prune=prune,
            cohorts=cohorts,
            words=lyrics,
            lyrics_model=lyrics_model,
            index_kind=ann,
            max_seconds=minutes(max_minutes),
            on_start=lambda n: progress.stage("embedding", n),
            on_item=progress.item,
            on_warning=progress.warn,
            on_stage=progress.stage,
        )
    if json_out:
        print_json(report.to_json())
    else:
        from homage.cli.output import index_summary

        console.print(index_summary(report, str(catalog)), highlight=False)
