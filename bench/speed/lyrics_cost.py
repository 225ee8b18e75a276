"""Seconds a person waits with the words on: indexing songs with their words, a one-shot `homage query` of
a new file, a one-shot `homage compare` of two new files — each a new process, with an empty feature cache.

    .venv/bin/python -m bench.speed.lyrics_cost FOLDER [--songs 6] [--catalog CAT] [--repeat 1] [--markdown]

FOLDER holds songs (e.g. ../shared/data/covers80-dev); the files nearest 4 minutes are used. Indexing is
timed on ``--songs`` of them with two workers and given per 4 minutes of audio; the query runs against
``--catalog`` (default: the catalog just built) with a file of FOLDER it does not hold; the compare takes
two files, each ``--repeat`` times (the median; this machine's speed varies by a second from run to run).
Each command is run with and without the words (``--no-lyrics``). Budgets: index ≤ 8 s per
4-minute song, query ≤ 10 s, compare ≤ 12 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

from bench.common import arguments
from homage import audio

HOMAGE = Path(sys.executable).with_name("homage")


def timed(*args: str, cache: str) -> float:
    """Wall seconds of one homage command in a new process, with the feature cache at ``cache``."""
    started = time.perf_counter()
    subprocess.run([str(HOMAGE), *args], check=True, capture_output=True, env={**os.environ, "HOMAGE_CACHE": cache})
    return time.perf_counter() - started


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("folder")
    parser.add_argument("--songs", type=int, default=6)
    parser.add_argument("--catalog")
    parser.add_argument("--repeat", type=int, default=1, help="one-shot commands timed this many times (median)")
    args = parser.parse_args()
    files = sorted(audio.find_audio(args.folder), key=lambda p: abs(sf.info(str(p)).duration - 240.0))
    songs, (query_file, compare_a, compare_b) = files[: args.songs], files[args.songs : args.songs + 3]
    minutes = sum(sf.info(str(p)).duration for p in songs) / 60
    rows = []
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "songs"
        folder.mkdir()
        for p in songs:
            (folder / p.name).symlink_to(p.resolve())
        for words in ("--lyrics", "--no-lyrics"):
            catalog = args.catalog or str(Path(work) / f"catalog{words}")
            index_s = timed(
                "index",
                str(folder),
                "-c",
                str(Path(work) / f"catalog{words}"),
                "-j",
                "2",
                words,
                cache=tempfile.mkdtemp(dir=work),
            )
            query_s = statistics.median(
                timed("query", str(query_file), "-c", catalog, words, cache=tempfile.mkdtemp(dir=work))
                for _ in range(args.repeat)
            )
            compare_s = statistics.median(
                timed("compare", str(compare_a), str(compare_b), words, cache=tempfile.mkdtemp(dir=work))
                for _ in range(args.repeat)
            )
            rows.append((words, index_s / minutes * 4, query_s, compare_s))
    durations = ", ".join(f"{sf.info(str(p)).duration / 60:.1f}" for p in (query_file, compare_a, compare_b))
    print(
        f"### Seconds waited ({len(songs)} songs indexed, {minutes:.0f} min of audio; "
        f"query and compare files of {durations} min; one-shot commands: median of {args.repeat})\n"
    )
    print("| words | index, per 4-min song (2 workers) | one-shot query | one-shot compare |")
    print("|---|---:|---:|---:|")
    for words, index_s, query_s, compare_s in rows:
        print(f"| {words} | {index_s:.1f} s | {query_s:.1f} s | {compare_s:.1f} s |")
    print("| budget (with words) | 8 s | 10 s | 12 s |")


if __name__ == "__main__":
    main()
