"""`homage optimize`: merge what was added to a catalog since its index was written."""

from __future__ import annotations

from homage.cli.common import CatalogOpt, JsonOpt, command


@command
def optimize(catalog: CatalogOpt, json_out: JsonOpt = False):
    """Fold recordings added or removed since the main index was written into it (of the kind the catalog's
    size calls for: exact below 100k recordings, IVF-PQ from there), so searches read one index again."""
    from homage import pipeline
    from homage.cli.common import console, print_json

    stats = pipeline.optimize(catalog)
    if json_out:
        print_json(stats)
    else:
        console.print(
            f"{catalog}: {stats['index_main']} recordings in one {stats['index_built']} index "
            f"({stats['index_file_bytes'] / 1e6:.1f} MB)",
            highlight=False,
        )
