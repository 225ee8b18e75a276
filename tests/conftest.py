"""Shared fixtures: small real audio made on the fly (synthesised tones, rendered MIDI), never shipped data."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
SR = 16000


def synth_piece(
    seed: int, *, transpose: int = 0, tempo: float = 1.0, seconds: float = 24.0, sr: int = SR
) -> np.ndarray:
    """A short tonal piece: a seeded chord progression with a melody, as harmonic tones.

    ``transpose`` (semitones) and ``tempo`` (ratio) change it the way a cover would; the notes stay.
    """
    rng = np.random.default_rng(seed)
    roots = rng.choice([0, 2, 4, 5, 7, 9], size=8)
    beat = 0.5 / tempo
    events = []  # (start, duration, midi pitch, amplitude)
    t = 0.0
    while t < seconds:
        for root in roots:
            base = 48 + root + transpose
            for interval in (0, 4 if root in (0, 5, 7) else 3, 7):
                events.append((t, 4 * beat, base + interval, 0.15))
            for step in range(4):
                events.append((t + step * beat, beat, 72 + int(rng.choice([0, 2, 4, 5, 7, 9])) + transpose, 0.25))
            t += 4 * beat
            if t >= seconds:
                break
    y = np.zeros(int(seconds * sr) + sr, dtype=np.float64)
    for start, dur, pitch, amp in events:
        n0, n = int(start * sr), int(dur * sr)
        if n0 >= len(y):
            continue
        tt = np.arange(min(n, len(y) - n0)) / sr
        f = 440.0 * 2 ** ((pitch - 69) / 12)
        tone = sum(np.sin(2 * np.pi * f * h * tt) / h for h in (1, 2, 3))
        y[n0 : n0 + len(tt)] += amp * tone * np.exp(-3 * tt)
    y = y[: int(seconds * sr)]
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def write(path: Path, y: np.ndarray, sr: int = SR) -> Path:
    from homage.audio import save

    path.parent.mkdir(parents=True, exist_ok=True)
    return save(path, y, sr)


def ffmpeg_encode(src: Path, dst: Path, *args: str) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (run setup.sh)")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(src), *args, str(dst)], check=True)
    return dst


@pytest.fixture(scope="session")
def piece_dir(tmp_path_factory) -> Path:
    """Three works in versions (transposed, faster) plus an unrelated piece, as audio files."""
    root = tmp_path_factory.mktemp("pieces")
    write(root / "work1" / "original.wav", synth_piece(1))
    write(root / "work1" / "transposed.flac", synth_piece(1, transpose=3))
    write(root / "work1" / "faster.ogg", synth_piece(1, tempo=1.15, transpose=-2))
    write(root / "work2" / "original.wav", synth_piece(2))
    write(root / "work2" / "transposed.flac", synth_piece(2, transpose=-4))
    write(root / "work3" / "original.mp3", synth_piece(3))
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Tests never touch the user's feature cache; commands run in one process unless a test asks for more
    (starting worker processes is what a command test would otherwise spend its time on)."""
    monkeypatch.setenv("HOMAGE_CACHE", str(tmp_path / "feature-cache"))
    monkeypatch.setenv("HOMAGE_WORKERS", "1")


def requires_shared(sub: str) -> Path:
    path = SHARED / sub
    if not path.exists():
        pytest.skip(f"../shared/{sub} is not available (read-only project data beside the checkout)")
    return path


def have_synth() -> bool:
    try:
        import fluidsynth  # noqa: F401 - needs libfluidsynth
        import pretty_midi  # noqa: F401

        from homage.data.render import find_soundfonts
    except (ImportError, OSError):
        return False
    return bool(find_soundfonts())


SYNTH_REASON = "rendering MIDI needs the [data] extra, FluidSynth and a General-MIDI SoundFont (run setup.sh)"
needs_fluidsynth = pytest.mark.skipif(not have_synth(), reason=SYNTH_REASON)
