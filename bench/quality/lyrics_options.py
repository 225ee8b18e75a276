"""What the words are worth against what they cost: transcription options on a set of real covers.

    .venv/bin/python -m bench.quality.lyrics_options ../shared/data/covers80-dev \
        [--options whole,first60,first120,beam5]

For each option (the whole recording or its first N seconds; beam 1 or 5) every recording is transcribed
(cached per option: a second run only scores), and the table gives the seconds of transcription per
recording (when not cached: the wall time × the workers ÷ the recordings, two worker processes of one
thread each on this 2-core machine), the MAP and top-1 of the words alone, and of the default pipeline with those words
(the shipped words weight). Prints Markdown.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np

from bench.common import arguments
from homage import lyrics
from homage.align.rerank import RERANK_DEPTH
from homage.data.manifest import load_dataset
from homage.errors import Failure
from homage.evaluation.metrics import retrieval_scores
from homage.features.cache import FeatureCache
from homage.lyrics import TranscribeOptions
from homage.models import DEFAULT_EMBEDDER, get_embedder
from homage.parallel import as_executor
from homage.pipeline.analysis import TranscriptTask
from homage.pipeline.evaluate import aligned_rows, ranked_scores
from homage.pipeline.indexing import analyze_many

OPTIONS = {
    "whole": TranscribeOptions(),
    "first60": TranscribeOptions(max_seconds=60.0),
    "first90": TranscribeOptions(max_seconds=90.0),
    "first120": TranscribeOptions(max_seconds=120.0),
    "beam5": TranscribeOptions(beam_size=5),
}


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("data")
    parser.add_argument("--options", default="whole,first60,first120,beam5")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    entries = load_dataset(args.data)
    paths = [str(e.path) for e in entries]
    works = np.array([e.work for e in entries])
    cache = FeatureCache.default()
    embedder = get_embedder(DEFAULT_EMBEDDER)
    analysed = [r for _, r in analyze_many([(p, None) for p in paths], embedder, cache, args.workers)]
    if any(isinstance(r, Failure) for r in analysed):
        raise SystemExit("every recording must decode for this comparison")
    S = embedder.similarity(np.array([r.vector for r in analysed]), np.array([r.vector for r in analysed]))
    lines = [
        f"### Transcription options on {args.data} ({len(paths)} recordings)",
        "",
        "| option | s per recording (transcription) | words alone MAP / top-1 | pipeline with words MAP / top-1 |",
        "|---|---:|---:|---:|",
    ]
    for name in args.options.split(","):
        options = OPTIONS[name]
        started = time.perf_counter()
        terms = []
        for _, transcript in as_executor(args.workers).map(TranscriptTask(cache, options), paths):
            terms.append(Counter() if isinstance(transcript, Failure) else lyrics.clean(transcript).terms())
        seconds = (time.perf_counter() - started) * args.workers / len(paths)
        W = lyrics.similarity_matrix(terms)
        words_alone = retrieval_scores(-np.nan_to_num(W, nan=-1.0), works)
        rows, cohorts = aligned_rows(S, [r.sequence for r in analysed], RERANK_DEPTH, W)
        fused = retrieval_scores(-ranked_scores(S, rows, cohorts, W), works)
        cost = f"{seconds:.1f}" if seconds > 0.5 else "(cached)"
        lines.append(
            f"| {name} ({options.identity}) | {cost} | {words_alone.map:.3f} / {words_alone.top1:.3f} "
            f"| {fused.map:.3f} / {fused.top1:.3f} |"
        )
        print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
