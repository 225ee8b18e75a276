"""Seconds per minute of audio for decode, features and embedding, on this machine.

    .venv/bin/python -m bench.speed.embed_speed [--embedder ftm2d] [--repeats 5]

A 4-minute piece is rendered (FluidSynth, music21's Maple Leaf Rag, looped) and encoded as the two kinds
of file users have: 16 kHz mono 32 kbps MP3 (as covers80 is distributed) and 44.1 kHz stereo 128 kbps MP3.
Each step is timed warm (after one untimed run), median of the repeats. Target: whole path ≤ 0.5 s.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
from rich.table import Table

from bench.common import arguments, median_time, show
from homage import audio
from homage.models import get_embedder

SONG_S = 240.0


def make_song(folder: Path) -> Path:
    """A 4-minute WAV: the demo's first piece rendered and looped."""
    from homage.data.render import render
    from homage.demo import PIECES, score_to_midi

    wav = render(score_to_midi(PIECES[0][0]), folder / "piece.wav")
    y, sr = audio.load(wav, sr=44100), 44100
    reps = int(np.ceil(SONG_S * sr / len(y)))
    song = np.tile(y, reps)[: int(SONG_S * sr)]
    return audio.save(folder / "song.wav", np.stack([song, song], axis=1), sr)


def encode(wav: Path, out: Path, *args: str) -> Path:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), *args, str(out)], check=True)
    return out


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--embedder", default=None)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    embedder = get_embedder(args.embedder)
    sr = embedder.feature.sr
    table = Table(title=f"{embedder.identity}: one {SONG_S / 60:.0f}-minute song, warm, median of {args.repeats}")
    for col in ("file", "step", "seconds", "s per minute of audio"):
        table.add_column(col, justify="left" if col in ("file", "step") else "right")
    with tempfile.TemporaryDirectory() as tmp:
        wav = make_song(Path(tmp))
        files = {
            "mp3 16 kHz mono 32 kbps": encode(wav, Path(tmp, "low.mp3"), "-ac", "1", "-ar", "16000", "-b:a", "32k"),
            "mp3 44.1 kHz stereo 128 kbps": encode(wav, Path(tmp, "high.mp3"), "-b:a", "128k"),
        }
        for label, path in files.items():
            t_decode, y = median_time(lambda: audio.load(path, sr=sr), args.repeats)
            t_features, X = median_time(lambda: embedder.feature.compute(y), args.repeats)
            t_embed, _ = median_time(lambda: embedder.embed(X), args.repeats)
            t_total, _ = median_time(
                lambda: embedder.embed(embedder.feature.compute(audio.load(path, sr=sr))), args.repeats
            )
            for step, seconds in [
                ("decode", t_decode),
                ("features", t_features),
                ("embed", t_embed),
                ("whole path", t_total),
            ]:
                table.add_row(
                    label,
                    step,
                    f"{seconds:.3f}",
                    f"{seconds / (SONG_S / 60):.3f}",
                    style="bold" if step == "whole path" else None,
                )
    show(table, args.markdown)


if __name__ == "__main__":
    main()
