"""Milliseconds per comparison for the alignment stage, features already cached.

    .venv/bin/python -m bench.speed.align_speed [--repeats 20]

Two renders of music21's Maple Leaf Rag (the second 3 semitones up, 10 % faster, other instrument),
looped to 30 s, 2, 4 and 8 minutes. Timed warm (numba compiled), median of the repeats:
fixed-rate chroma from the CQT, then the alignment (OTI, delay embedding, cross-recurrence, Qmax,
segments). Target: ≤ 10 ms per pair of 4-minute songs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from rich.table import Table

from bench.common import arguments, median_time, show
from homage import audio
from homage.align import AlignConfig, align_sequences
from homage.align.sequences import fixed_rate_chroma
from homage.data.render import VersionParams, make_version, render
from homage.demo import PIECES, score_to_midi
from homage.features.cqt import CQTSpec

LENGTHS_S = (30, 120, 240, 480)


def cqt_of_versions(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    midi = score_to_midi(PIECES[0][0])
    a = render(midi, folder / "a.wav")
    b = render(make_version(midi, VersionParams(program=24, tempo_ratio=1.1, transpose=3)), folder / "b.wav")
    spec = CQTSpec()
    return tuple(spec.compute(audio.load(p, sr=spec.sr)) for p in (a, b))


def loop(C: np.ndarray, seconds: float, frame_rate: float) -> np.ndarray:
    frames = int(seconds * frame_rate)
    return np.tile(C, (1, int(np.ceil(frames / C.shape[1]))))[:, :frames]


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    spec, config = CQTSpec(), AlignConfig()
    with tempfile.TemporaryDirectory() as tmp:
        Ca, Cb = cqt_of_versions(Path(tmp))
    table = Table(title=f"Alignment per pair, warm, median of {args.repeats} (ms)", title_justify="left")
    for col in ("song length", "chroma (both)", "align", "total", "transposition", "tempo ratio"):
        table.add_column(col, justify="right")
    for seconds in LENGTHS_S:
        A, B = loop(Ca, seconds, spec.frame_rate), loop(Cb, seconds / 1.1, spec.frame_rate)
        chroma_ms = (
            1000
            * median_time(
                lambda: (fixed_rate_chroma(A, spec, config.frame_rate), fixed_rate_chroma(B, spec, config.frame_rate)),
                args.repeats,
            )[0]
        )
        a, b = fixed_rate_chroma(A, spec, config.frame_rate), fixed_rate_chroma(B, spec, config.frame_rate)
        align_ms = 1000 * median_time(lambda: align_sequences(a, b, config), args.repeats)[0]
        result = align_sequences(a, b, config)
        table.add_row(
            f"{seconds / 60:g} min",
            f"{chroma_ms:.1f}",
            f"{align_ms:.1f}",
            f"{chroma_ms + align_ms:.1f}",
            f"{result.transposition:+d}",
            f"{result.tempo_ratio:.2f}",
        )
    show(table, args.markdown)


if __name__ == "__main__":
    main()
