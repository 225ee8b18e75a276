"""Render MIDI to audio with a SoundFont synthesizer, and derive versions of a piece from its MIDI.

A version keeps the notes (melody and harmony) and changes what covers change: instruments, tempo,
key. FluidSynth renders in-process (`homage.data.synth`); General-MIDI SoundFonts come from Debian.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi

from homage import audio
from homage.data.arrange import scale_tempo, transpose
from homage.data.synth import synthesize
from homage.data.timing import excerpt
from homage.errors import AudioError, ConfigError, HomageError

SOUNDFONT_DIRS = ("/usr/share/sounds/sf2", "/usr/share/soundfonts", "/usr/share/sounds/sf3")


@dataclass(frozen=True)
class VersionParams:
    """How one version differs from the source MIDI."""

    program: int = 0  # General-MIDI program for every melodic part
    tempo_ratio: float = 1.0  # > 1 plays faster
    transpose: int = 0  # semitones

    def describe(self) -> str:
        name = pretty_midi.program_to_instrument_name(self.program)
        return f"{name}, {self.tempo_ratio:.2f}× tempo, {self.transpose:+d} st"


def find_soundfonts() -> list[Path]:
    """Installed SoundFonts: ``$HOMAGE_SOUNDFONT`` first, then the Debian locations (resolved, unique)."""
    candidates = [os.environ["HOMAGE_SOUNDFONT"]] if os.environ.get("HOMAGE_SOUNDFONT") else []
    for folder in SOUNDFONT_DIRS:
        candidates += sorted(glob.glob(f"{folder}/*.sf2")) + sorted(glob.glob(f"{folder}/*.sf3"))
    unique = {}
    for c in candidates:
        path = Path(c).resolve()
        if path.is_file():
            unique.setdefault(path, None)
    return list(unique)


def default_soundfont() -> Path:
    fonts = find_soundfonts()
    if not fonts:
        raise ConfigError("no SoundFont found: install fluid-soundfont-gm (see setup.sh) or set HOMAGE_SOUNDFONT")
    return fonts[0]


def make_version(midi: pretty_midi.PrettyMIDI, params: VersionParams) -> pretty_midi.PrettyMIDI:
    """A copy of ``midi`` with every melodic part on ``program``, notes transposed, time scaled."""
    out = scale_tempo(midi, params.tempo_ratio)
    for instrument in out.instruments:
        if not instrument.is_drum:
            instrument.program = params.program
        transpose(instrument, params.transpose)
    return out


def render(
    midi: pretty_midi.PrettyMIDI,
    out_path: str | Path,
    *,
    soundfont: str | Path | None = None,
    sr: int = 22050,
    bitrate: int | None = None,
) -> Path:
    """Synthesize ``midi`` into ``out_path`` (format from its extension: wav, flac, ogg, mp3), peak-normalised."""
    y = synthesize(midi, soundfont or default_soundfont(), sr)
    peak = float(np.abs(y).max()) or 1.0
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    return audio.save(out_path, 0.9 * y / peak, sr, bitrate=bitrate)


def render_excerpt(path: str | Path, seconds: float, folder: str | Path) -> Path:
    """The first ``seconds`` of MIDI file ``path`` rendered into ``folder`` (reused when already there,
    keyed by the file's content). Raises HomageError naming the file when it cannot be read or rendered."""
    import warnings

    target = Path(folder) / f"{audio.file_hash(path)}-{seconds:g}s.flac"
    if target.exists():
        return target
    partial = target.with_suffix(".part.flac")
    try:
        with warnings.catch_warnings():  # pretty_midi warns about tempo events on other tracks
            warnings.simplefilter("ignore", RuntimeWarning)
            midi = pretty_midi.PrettyMIDI(str(path))
        render(excerpt(midi, seconds), partial)
    except HomageError:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken MIDI file is reported, the rest goes on
        raise AudioError(path, f"cannot render MIDI ({type(exc).__name__}: {exc})") from exc
    return partial.replace(target)
