"""`homage scan`: which of these new files borrow from the catalog?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from homage.cli.common import (
    CacheOpt,
    CatalogOpt,
    JsonOpt,
    LyricsOpt,
    NoCacheOpt,
    RayAddressOpt,
    RayOpt,
    WorkersOpt,
    command,
)


@command
def scan(
    folder: Annotated[Path, typer.Argument(help="Folder of new files (searched recursively).", readable=False)],
    catalog: CatalogOpt,
    threshold: Annotated[str, typer.Option(help="Flag pairs from this verdict up: maybe or version.")] = "maybe",
    report: Annotated[Path | None, typer.Option("--report", help="Write report.html and flagged.csv here.")] = None,
    state: Annotated[
        Path | None, typer.Option(help="Where the scan keeps what it did, to resume [default: in the cache].")
    ] = None,
    workers: WorkersOpt = 2,
    lyrics: LyricsOpt = None,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    ray: RayOpt = False,
    ray_address: RayAddressOpt = None,
    json_out: JsonOpt = False,
):
    """Query every file of FOLDER against the catalog and list the catalogued recordings each is a version of
    (an interrupted scan resumes; bad files are reported, not fatal)."""
    from homage import pipeline
    from homage.cli.common import FileProgress, console, executor, feature_cache, print_json
    from homage.reports import write_scan_report

    features = feature_cache(cache, no_cache)
    with FileProgress("scanning", disable=json_out) as progress:
        result = pipeline.scan(
            folder,
            catalog,
            threshold=threshold,
            words=lyrics,
            workers=executor(workers, ray, ray_address),
            cache=features,
            state=state,
            on_start=lambda n: progress.stage("scanning", n),
            on_item=progress.item,
        )
    written = write_scan_report(result, report, cache=features) if report else None
    if json_out:
        print_json(result.to_json() | ({"report": str(written)} if written else {}))
        return
    from homage.cli.output import flags_table

    console.print(flags_table(result))
    console.print(
        f"{result.scanned + result.resumed} files scanned ({result.resumed} by an earlier run), "
        f"{len(result.flags)} flagged pairs, {len(result.failed)} failed, {result.seconds:.1f} s"
        + (f"; report: {written}" if written else ""),
        highlight=False,
    )
