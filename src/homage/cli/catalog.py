"""`homage info` and `homage remove`: what a catalog holds, and taking recordings out of it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from homage.cli.common import CatalogOpt, JsonOpt, command


@command
def info(catalog: CatalogOpt, json_out: JsonOpt = False):
    """What a catalog holds: recordings, hours, embedder, index."""
    from homage import pipeline
    from homage.cli.common import console, print_json

    details = pipeline.catalog_info(catalog)
    if json_out:
        print_json(details)
    else:
        from homage.cli.output import info_table

        console.print(info_table(details))


@command
def remove(
    files: Annotated[list[Path], typer.Argument(help="Catalogued files to remove (paths as indexed).")],
    catalog: CatalogOpt,
):
    """Remove recordings from a catalog."""
    from homage import pipeline
    from homage.cli.common import console

    console.print(f"removed {pipeline.remove(files, catalog)} of {len(files)} from {catalog}")
