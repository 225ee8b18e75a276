"""Synthesize a ``pretty_midi.PrettyMIDI`` in-process with FluidSynth (pyfluidsynth).

One synthesizer per SoundFont is kept per process, so rendering thousands of short versions costs
no SoundFont reload: about 200× real time on one core. Events are placed on FluidSynth's 64-sample
blocks (2.9 ms at 22.05 kHz), so renders repeat to within its dither (a few 16-bit steps).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pretty_midi

from homage.errors import ConfigError

DRUM_CHANNEL = 9
BLOCK = 64  # FluidSynth renders in blocks of 64 samples; events land on block boundaries
_SYNTHS: dict[tuple[int, str, int], tuple[object, int]] = {}

# Event kinds in the order they must happen at the same instant.
_NOTE_OFF, _CONTROL, _BEND, _NOTE_ON = range(4)


def _synth(soundfont: Path, sr: int):
    """The process's synthesizer for ``soundfont`` (loaded on first use; a fork gets its own)."""
    key = (os.getpid(), str(soundfont), sr)
    if key not in _SYNTHS:
        try:
            import fluidsynth
        except (ImportError, OSError) as exc:  # missing libfluidsynth
            raise ConfigError(f"FluidSynth is not available ({exc}); install fluidsynth (see setup.sh)") from exc
        # FluidSynth's own reverb and chorus keep a tail from one render into the next; the recording
        # chain adds room sound instead, so renders are reproducible.
        synth = fluidsynth.Synth(samplerate=float(sr), gain=0.4, **{"synth.reverb.active": 0, "synth.chorus.active": 0})
        sfid = synth.sfload(str(soundfont))
        if sfid < 0:
            raise ConfigError(f"{soundfont}: not a readable SoundFont")
        synth.program_select(0, sfid, 0, 0)
        synth.noteon(0, 60, 64)  # the first notes after loading sound slightly different: play one away
        synth.get_samples(BLOCK * (sr // 2 // BLOCK))
        _SYNTHS[key] = (synth, sfid)
    return _SYNTHS[key]


def _channels(midi: pretty_midi.PrettyMIDI) -> list[int]:
    """A MIDI channel per instrument: drums on 9, melodic parts on the others (shared when > 15)."""
    melodic = [c for c in range(16) if c != DRUM_CHANNEL]
    out, n = [], 0
    for instrument in midi.instruments:
        if instrument.is_drum:
            out.append(DRUM_CHANNEL)
        else:
            out.append(melodic[n % len(melodic)])
            n += 1
    return out


def _events(midi: pretty_midi.PrettyMIDI, channels: list[int]) -> list[tuple]:
    events = []
    for instrument, ch in zip(midi.instruments, channels):
        for note in instrument.notes:
            events.append((note.start, _NOTE_ON, ch, note.pitch, note.velocity))
            events.append((note.end, _NOTE_OFF, ch, note.pitch, 0))
        for cc in instrument.control_changes:
            events.append((cc.time, _CONTROL, ch, cc.number, cc.value))
        for bend in instrument.pitch_bends:
            events.append((bend.time, _BEND, ch, bend.pitch, 0))
    events.sort()
    return events


def synthesize(midi: pretty_midi.PrettyMIDI, soundfont: str | Path, sr: int = 22050, tail: float = 1.0) -> np.ndarray:
    """Stereo float32 audio (n, 2) of ``midi`` played with ``soundfont``, plus ``tail`` seconds of release."""
    synth, sfid = _synth(Path(soundfont), sr)
    channels = _channels(midi)
    synth.system_reset()  # no voice or controller state from an earlier render
    for instrument, ch in zip(midi.instruments, channels):
        synth.program_select(
            ch, sfid, 128 if instrument.is_drum else 0, 0 if instrument.is_drum else instrument.program
        )
    blocks, done = [], 0
    for time, kind, ch, a, b in _events(midi, channels):
        # Every read is whole blocks, so a render never starts mid-block after an earlier one.
        sample = BLOCK * int(round(time * sr / BLOCK))
        if sample > done:
            blocks.append(synth.get_samples(sample - done))
            done = sample
        if kind == _NOTE_ON:
            synth.noteon(ch, a, b)
        elif kind == _NOTE_OFF:
            synth.noteoff(ch, a)
        elif kind == _CONTROL:
            synth.cc(ch, a, b)
        else:
            synth.pitch_bend(ch, a)
    for ch in range(16):
        synth.cc(ch, 64, 0)
        synth.cc(ch, 123, 0)
    blocks.append(synth.get_samples(BLOCK * int(tail * sr / BLOCK)))
    return (np.concatenate(blocks).astype(np.float32) / 32768.0).reshape(-1, 2)
