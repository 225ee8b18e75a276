"""`homage groups`: group a catalog into works."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from homage.cli.common import CatalogOpt, JsonOpt, RayAddressOpt, RayOpt, WorkersOpt, command


@command
def groups(
    catalog: CatalogOpt,
    out: Annotated[Path | None, typer.Option("--out", help="Write one row per recording to this CSV.")] = None,
    threshold: Annotated[
        str, typer.Option(help="Average verdict a recording needs to join a group: version or maybe.")
    ] = "version",
    regroup: Annotated[
        bool, typer.Option("--regroup", help="Start over instead of adding new recordings to the groups.")
    ] = False,
    json_out: JsonOpt = False,
    workers: WorkersOpt = 2,
    ray: RayOpt = False,
    ray_address: RayAddressOpt = None,
):
    """Group the catalog's recordings into works (versions of one another), and store the groups in it."""
    from homage import pipeline
    from homage.cli.common import FileProgress, console, executor, print_json

    with FileProgress("grouping", disable=json_out) as progress:
        report = pipeline.groups(
            catalog,
            threshold=threshold,
            regroup=regroup,
            workers=executor(workers, ray, ray_address),
            on_start=lambda n: progress.stage("grouping", n),
            on_item=progress.item,
        )
    rows = pipeline.group_table(catalog)
    if out:
        import csv

        with open(out, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["id"])
            writer.writeheader()
            writer.writerows(rows)
    if json_out:
        print_json(report.to_json() | {"rows": rows})
        return
    console.print(
        f"{report.recordings} recordings in {report.groups} groups ({report.multi} of two or more); "
        f"{report.grouped} placed now, {report.aligned_pairs} pairs aligned, {report.seconds:.1f} s"
        + (f" → {out}" if out else ""),
        highlight=False,
    )
