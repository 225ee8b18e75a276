"""`homage data …`: build and look at the versions corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from homage.cli.common import RayAddressOpt, RayOpt, WorkersOpt, command

data_app = typer.Typer(help="Build and inspect the versions corpus used for training.", no_args_is_help=True)


@data_app.command()
@command
def build(
    out: Annotated[Path, typer.Argument(help="Corpus folder (created; an existing build there is resumed).")],
    pop909: Annotated[Path | None, typer.Option(help="POP909 folder (song folders NNN/).")] = None,
    asap: Annotated[Path | None, typer.Option(help="ASAP folder (with metadata.csv).")] = None,
    audio: Annotated[
        list[Path] | None, typer.Option("--audio", help="Folder of recordings used as distractors.")
    ] = None,
    debian_music: Annotated[
        bool, typer.Option(help="Also use installed Debian game-music packages as distractors.")
    ] = True,
    versions: Annotated[int, typer.Option(min=2, help="Versions per work.")] = 4,
    seconds: Annotated[float, typer.Option(min=5, help="Length of each version (an excerpt of the work).")] = 30.0,
    max_works: Annotated[int | None, typer.Option(min=1, help="Use a seeded sample of this many works.")] = None,
    split: Annotated[
        list[str] | None,
        typer.Option(help="Render only the works of this split (train/val/test; repeatable) [default: all]."),
    ] = None,
    arrangement: Annotated[
        list[str] | None,
        typer.Option(
            help="POP909: one version of each of these kinds (original, draft, rearranged, melody; "
            "repeatable) instead of --versions drawn ones."
        ),
    ] = None,
    humanize: Annotated[
        bool,
        typer.Option(
            help="Play versions as people do: leads sung (glides, vibrato, drifting intonation), "
            "tempo wandering, each render tuned up to half a semitone off A440."
        ),
    ] = False,
    reinterpret: Annotated[
        bool,
        typer.Option(
            help="Give each version its own reading: the melody rephrased (notes anticipated or delayed, "
            "tied or re-sung, grace notes) and, in re-arrangements, some chords substituted."
        ),
    ] = False,
    soundfont: Annotated[
        list[Path] | None, typer.Option(help="SoundFont(s) to draw from [default: all installed].")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed: the same seed and sources give the same corpus.")] = 0,
    draw: Annotated[
        int,
        typer.Option(
            min=0,
            help="Another draw of versions of the same works in the same splits "
            "(e.g. more versions per work in a second corpus).",
        ),
    ] = 0,
    workers: WorkersOpt = 2,
    ray: RayOpt = False,
    ray_address: RayAddressOpt = None,
):
    """Render works from POP909/ASAP (and recordings as distractors) in several versions each, with splits by work."""
    from homage.cli.common import FileProgress, console, executor
    from homage.data.build import SPLITS, BuildSettings
    from homage.data.build import build as run_build
    from homage.data.sources import debian_music_dirs

    audio_dirs = [str(p) for p in audio or []] + ([str(p) for p in debian_music_dirs()] if debian_music else [])
    settings = BuildSettings(
        seed=seed,
        draw=draw,
        versions=versions,
        seconds=seconds,
        max_works=max_works,
        splits=tuple(split or SPLITS),
        pop909=str(pop909) if pop909 else None,
        asap=str(asap) if asap else None,
        audio=tuple(audio_dirs),
        soundfonts=tuple(str(p) for p in soundfont or []),
        arrangements=tuple(arrangement or ()),
        humanize=humanize,
        reinterpret=reinterpret,
    )
    with FileProgress("rendering") as progress:
        summary = run_build(
            out,
            settings,
            workers=executor(workers, ray, ray_address),
            on_start=lambda total: progress.stage("rendering", total),
            on_work=lambda work_id, rows, error: progress.item(work_id, error),
        )
    console.print(
        f"{out}: {summary.works} works, {summary.versions} versions, {summary.hours:.1f} h of audio "
        f"({summary.skipped} works already built; this run {summary.seconds / 60:.1f} min, "
        f"{len(summary.errors)} with errors)"
    )


@data_app.command()
@command
def inspect(
    corpus: Annotated[Path, typer.Argument(help="Corpus folder built by `homage data build`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG to write.")] = Path("corpus-inspect.png"),
    works: Annotated[int, typer.Option(min=1, max=12, help="Works to show (rows).")] = 4,
    seed: Annotated[int, typer.Option(help="Seed of the choice of works.")] = 0,
):
    """Write a PNG of the versions of a few works side by side (CQT above chroma), and print the corpus counts."""
    from homage.cli.common import console
    from homage.data.inspect import inspect_corpus, split_counts

    for split, n in split_counts(corpus).items():
        console.print(f"{split:>5}: {n['works']:5d} works, {n['versions']:6d} versions, {n['hours']:5.1f} h")
    console.print(f"PNG: {inspect_corpus(corpus, out, n_works=works, seed=seed)}")
