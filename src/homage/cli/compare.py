"""`homage compare`: are two recordings versions of one work, and where do they match?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from homage.cli.common import (
    CacheOpt,
    EmbedderOpt,
    JsonOpt,
    LyricsModelOpt,
    LyricsOpt,
    MaxMinutesOpt,
    NoCacheOpt,
    command,
)


@command
def compare(
    a: Annotated[Path, typer.Argument(help="First recording.", readable=False)],
    b: Annotated[Path, typer.Argument(help="Second recording.", readable=False)],
    embedder: EmbedderOpt = None,
    lyrics: LyricsOpt = None,
    lyrics_model: LyricsModelOpt = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write alignment.png and report.md into this folder.")
    ] = None,
    max_minutes: MaxMinutesOpt = 30.0,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    json_out: JsonOpt = False,
):
    """How similar are two recordings, and where do they match? (verdict, segments, key, tempo, shared lyrics)."""
    from homage import pipeline
    from homage.cli.common import console, errors, feature_cache, minutes, print_json

    result = pipeline.compare(
        a,
        b,
        embedder=embedder,
        words=lyrics,
        lyrics_model=lyrics_model,
        cache=feature_cache(cache, no_cache),
        max_seconds=minutes(max_minutes),
    )
    if json_out:
        print_json(result.to_json())
    else:
        from homage.cli.output import print_comparison

        print_comparison(result)
    if report:
        from homage.reports import write_comparison_report

        path = write_comparison_report(result, report)
        (errors if json_out else console).print(f"report: {path}", highlight=False)
