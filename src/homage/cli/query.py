"""`homage query`: what is this recording a version of?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from homage.cli.common import (
    CacheOpt,
    CatalogOpt,
    JsonOpt,
    LyricsModelOpt,
    LyricsOpt,
    MaxMinutesOpt,
    NoCacheOpt,
    command,
)


@command
def query(
    file: Annotated[Path, typer.Argument(help="The recording to look up.", readable=False)],
    catalog: CatalogOpt,
    k: Annotated[int, typer.Option("-k", min=1, help="How many results.")] = 10,
    rerank: Annotated[
        int | None,
        typer.Option(
            "--rerank",
            min=0,
            help="Align the embedding's top K with the query and re-order them (0: embedding only) [default: 100].",
        ),
    ] = None,
    lyrics: LyricsOpt = None,
    lyrics_model: LyricsModelOpt = None,
    max_minutes: MaxMinutesOpt = 30.0,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    json_out: JsonOpt = False,
):
    """What is this a version of? The catalog's most likely versions, best first, with verdicts."""
    from homage import pipeline
    from homage.cli.common import console, feature_cache, minutes, print_json

    depth = {} if rerank is None else {"rerank_depth": rerank}  # the library's default depth unless told
    result = pipeline.query(
        file,
        catalog,
        k=k,
        words=lyrics,
        lyrics_model=lyrics_model,
        cache=feature_cache(cache, no_cache),
        max_seconds=minutes(max_minutes),
        **depth,
    )
    if json_out:
        print_json({"catalog": str(catalog), **result.to_json()})
    else:
        from homage.cli.output import matches_table

        console.print(matches_table(result))
