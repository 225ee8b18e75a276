"""Seconds a person waits: a one-shot `homage query` of a new 4-minute file (cold process, default
re-ranking), a one-shot `homage compare` of two new files, re-ranking 100 candidates in-process, and
indexing one new song into the catalog (warm).

    .venv/bin/python -m bench.speed.query_speed [--catalog-size 120] [--repeats 3] [--work DIR]

The catalog holds 4-minute songs made from music21's pieces (FluidSynth renders in versions of other
instrument, tempo and key, looped to 4 minutes, MP3 16 kHz mono as covers80 is distributed), indexed
with the feature cache. Each one-shot command is a new process on a file it has never seen (its features
are computed); the first, untimed, only warms the OS file cache. Targets: query ≤ 3 s, compare ≤ 3 s,
re-ranking 100 candidates ≤ 0.3 s, indexing a song ≤ 1.5 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.table import Table

from bench.common import arguments, median_time, show
from homage import audio, pipeline
from homage.align import Prepared
from homage.align.rerank import RERANK_DEPTH, rerank
from homage.catalog import Catalog
from homage.data.render import VersionParams, make_version, render
from homage.data.timing import excerpt
from homage.demo import PIECES, PROGRAMS, score_to_midi
from homage.features.cache import FeatureCache
from homage.pipeline.analysis import SEQUENCE_KIND, analyze_file

SONG_S = 240.0
HOMAGE = Path(sys.executable).with_name("homage")


def make_songs(folder: Path, n: int, seed: int) -> list[Path]:
    """``n`` 4-minute MP3s: the demo pieces in drawn versions, each excerpt looped to 4 minutes."""
    rng = np.random.default_rng(seed)
    scores = [excerpt(score_to_midi(work), 45.0) for work, _, _ in PIECES]
    songs = []
    for i in range(n):
        path = folder / f"song{seed}-{i:03d}.mp3"
        if not path.exists():
            params = VersionParams(
                int(rng.choice(PROGRAMS)), round(float(rng.uniform(0.8, 1.25)), 2), int(rng.integers(-5, 7))
            )
            wav = render(make_version(scores[i % len(scores)], params), folder / "render.wav", sr=16000)
            y = audio.load(wav, sr=16000)
            start = int(rng.integers(len(y)))
            song = np.tile(np.roll(y, -start), int(np.ceil(SONG_S * 16000 / len(y))))[: int(SONG_S * 16000)]
            audio.save(path, song, 16000, bitrate=32000)
        songs.append(path)
    return songs


def wall(args: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run([str(HOMAGE), *args], check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--catalog-size", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None, help="keep the songs, cache and catalog here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        (work / "library").mkdir(parents=True, exist_ok=True)
        (work / "new").mkdir(parents=True, exist_ok=True)
        cache_dir, catalog = work / "cache", work / "catalog"
        env = {**os.environ, "HOMAGE_CACHE": str(cache_dir)}
        print(f"rendering {args.catalog_size} songs of {SONG_S / 60:.0f} minutes and indexing them …", flush=True)
        make_songs(work / "library", args.catalog_size, seed=0)
        pipeline.index_dir(work / "library", catalog, cache=FeatureCache(cache_dir))
        new = make_songs(work / "new", 3 * args.repeats + 3, seed=int(time.time()))  # never seen before
        wall(["query", str(new[0]), "--catalog", str(catalog)], env)  # untimed: warms the OS file cache
        query_s = [wall(["query", str(p), "--catalog", str(catalog)], env) for p in new[1 : 1 + args.repeats]]
        rest = new[1 + args.repeats :]
        compare_s = [wall(["compare", str(rest[2 * r]), str(rest[2 * r + 1])], env) for r in range(args.repeats)]
        help_s = [wall(["--help"], env) for _ in range(args.repeats)]
        index_s = []  # one new song indexed in this warm process: decode, features, embedding, its cohort
        for path in make_songs(work / "add", args.repeats, seed=int(time.time()) + 1):
            started = time.perf_counter()
            report = pipeline.index_dir(path, catalog, cache=FeatureCache(cache_dir), workers=1)
            index_s.append(time.perf_counter() - started)
            assert report.added == 1 and report.cohorts == 1, report.to_json()

        cache = FeatureCache(cache_dir)
        with Catalog(catalog) as cat:
            embedder = pipeline.embedder_for(cat)
            q = analyze_file(new[1], embedder, cache)
            S, I = cat.search(q.vector, RERANK_DEPTH)
            stored = cat.sequences(I[0], SEQUENCE_KIND)
        candidates = [stored[i] for i in I[0]]
        rerank_s, _ = median_time(lambda: rerank(Prepared(q.sequence), candidates, S[0]), 5)
        inproc_s, _ = median_time(lambda: pipeline.query(new[1], catalog, cache=cache), 5)

    table = Table(
        title=f"Waiting times, catalog of {args.catalog_size} four-minute songs (median of {args.repeats})",
        title_justify="left",
    )
    for col in ("what", "seconds", "target"):
        table.add_column(col, justify="left" if col == "what" else "right")
    table.add_row(
        "one-shot `homage query NEW.mp3` (cold process, new file, re-ranks the top 100)",
        f"{statistics.median(query_s):.2f}",
        "≤ 3",
    )
    table.add_row("one-shot `homage compare NEW1.mp3 NEW2.mp3`", f"{statistics.median(compare_s):.2f}", "≤ 3")
    table.add_row("re-ranking 100 candidates, in-process (sequences from the catalog)", f"{rerank_s:.3f}", "≤ 0.3")
    table.add_row("whole query in-process, warm (features cached)", f"{inproc_s:.3f}", "")
    table.add_row(
        "indexing one new song, warm (decode, features, embedding and its cohort)",
        f"{statistics.median(index_s):.2f}",
        "≤ 1.5",
    )
    table.add_row("`homage --help` (start-up alone)", f"{statistics.median(help_s):.2f}", "")
    show(table, args.markdown, width=120)


if __name__ == "__main__":
    main()
