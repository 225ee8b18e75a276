"""Render MIDI to audio with a SoundFont synthesizer, and derive versions of a piece from its MIDI.

A version keeps the notes (melody and harmony) and changes what covers change: instruments, tempo,
key. The FluidSynth command-line synthesizer renders; General-MIDI SoundFonts come from Debian.
"""

from __future__ import annotations

import copy
import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf

from homage import audio
from homage.errors import ConfigError, HomageError

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
    out = copy.deepcopy(midi)
    scale = 1.0 / params.tempo_ratio
    for instrument in out.instruments:
        if not instrument.is_drum:
            instrument.program = params.program
        for note in instrument.notes:
            note.start *= scale
            note.end *= scale
            if not instrument.is_drum:
                note.pitch = int(np.clip(note.pitch + params.transpose, 0, 127))
        for event in instrument.pitch_bends + instrument.control_changes:
            event.time *= scale
    for event in _meta_events(out):
        event.time *= scale
    return out


def excerpt(midi: pretty_midi.PrettyMIDI, seconds: float) -> pretty_midi.PrettyMIDI:
    """The first ``seconds`` of ``midi`` (notes that start later are dropped, later ones cut)."""
    out = copy.deepcopy(midi)
    for instrument in out.instruments:
        instrument.notes = [n for n in instrument.notes if n.start < seconds]
        for note in instrument.notes:
            note.end = min(note.end, seconds)
        instrument.pitch_bends = [e for e in instrument.pitch_bends if e.time < seconds]
        instrument.control_changes = [e for e in instrument.control_changes if e.time < seconds]
    out.time_signature_changes = [e for e in out.time_signature_changes if e.time < seconds]
    out.key_signature_changes = [e for e in out.key_signature_changes if e.time < seconds]
    out.lyrics = [e for e in out.lyrics if e.time < seconds]
    out.text_events = [e for e in out.text_events if e.time < seconds]
    return out


def _meta_events(midi: pretty_midi.PrettyMIDI) -> list:
    """Timed events outside the instruments; they set where a written MIDI file ends."""
    return midi.time_signature_changes + midi.key_signature_changes + midi.lyrics + midi.text_events


def render(
    midi: pretty_midi.PrettyMIDI, out_path: str | Path, *, soundfont: str | Path | None = None, sr: int = 22050
) -> Path:
    """Synthesize ``midi`` with FluidSynth into ``out_path`` (format from its extension: wav, flac, ogg, mp3)."""
    fluidsynth = shutil.which("fluidsynth")
    if fluidsynth is None:
        raise ConfigError("fluidsynth is not installed (see setup.sh)")
    soundfont = Path(soundfont) if soundfont else default_soundfont()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp, "in.mid"), Path(tmp, "out.wav")
        midi.write(str(mid))
        cmd = [fluidsynth, "-ni", "-q", "-g", "0.5", "-r", str(sr), "-F", str(wav), str(soundfont), str(mid)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not wav.exists():
            raise HomageError(f"fluidsynth failed on {out_path.name}: {done.stderr.strip()[:200]}")
        y, file_sr = sf.read(wav, dtype="float32")
    peak = float(np.abs(y).max()) or 1.0
    return audio.save(out_path, 0.9 * y / peak, file_sr)
