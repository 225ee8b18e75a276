"""Re-arrange a song from its melody, chord labels and beats: what a cover band does.

Pure functions over ``pretty_midi`` objects. A lead sheet (melody + chords + beats) becomes a new
arrangement: an accompaniment in one of several styles, a bass line, a drum pattern; structure edits
(cut or repeat a span: :mod:`homage.data.timing`) and whole-piece tempo and key changes are applied afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi

from homage.data.timing import warp_times
from homage.errors import ParameterError

PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
QUALITIES = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "maj6": (0, 4, 7, 9),
    "min6": (0, 3, 7, 9),
    "dim7": (0, 3, 6, 9),
    "hdim7": (0, 3, 6, 10),
    "minmaj7": (0, 3, 7, 11),
    "sus4(b7)": (0, 5, 7, 10),
    "9": (0, 4, 7, 10, 14),
    "maj9": (0, 4, 7, 11, 14),
    "min9": (0, 3, 7, 10, 14),
}
DEGREES = {
    "1": 0,
    "b2": 1,
    "2": 2,
    "b3": 3,
    "3": 4,
    "4": 5,
    "#4": 6,
    "b5": 6,
    "5": 7,
    "#5": 8,
    "b6": 8,
    "6": 9,
    "b7": 10,
    "7": 11,
    "9": 2,
}
STYLES = ("block", "arpeggio", "strum", "alberti", "pad")
# General-MIDI drum notes
KICK, SNARE, CLOSED_HAT, RIDE, CRASH = 36, 38, 42, 51, 49


@dataclass(frozen=True)
class Chord:
    start: float
    end: float
    root: int  # pitch class
    intervals: tuple[int, ...]
    bass: int  # pitch class of the bass note (inversions)


def parse_chord_label(label: str) -> tuple[int, tuple[int, ...], int] | None:
    """``'F#:min7/b7'`` → (root pc, intervals, bass pc); ``None`` for no chord (``'N'``) or an unreadable label."""
    match = re.fullmatch(r"([A-G])([#b]*):([^/]+)(?:/(.+))?", label.strip())
    if not match:
        return None
    letter, accidentals, quality, inversion = match.groups()
    root = (PITCH_CLASSES[letter] + accidentals.count("#") - accidentals.count("b")) % 12
    intervals = QUALITIES.get(quality, QUALITIES["min"] if quality.startswith("min") else QUALITIES["maj"])
    bass = (root + DEGREES.get(inversion, 0)) % 12 if inversion else root
    return root, intervals, bass


def read_chords(path) -> list[Chord]:
    """POP909 ``chord_midi.txt``: ``start end label`` per line; no-chord spans are dropped."""
    chords = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 3 and (parsed := parse_chord_label(parts[2])):
            chords.append(Chord(float(parts[0]), float(parts[1]), *parsed))
    return chords


def read_beats(path) -> tuple[np.ndarray, np.ndarray]:
    """POP909 ``beat_midi.txt``: beat times and which of them start a bar."""
    rows = np.loadtxt(path, ndmin=2)
    return rows[:, 0], rows[:, 2] > 0.5


def _voicing(chord: Chord, low: int) -> list[int]:
    """Chord tones from the first root at or above ``low``, in close position."""
    root = low + (chord.root - low) % 12
    return [root + i for i in chord.intervals]


def _beats_in(chord: Chord, beats: np.ndarray) -> np.ndarray:
    inside = beats[(beats >= chord.start - 1e-3) & (beats < chord.end - 1e-3)]
    return inside if len(inside) else np.array([chord.start])


def accompaniment(
    chords: list[Chord], beats: np.ndarray, style: str, program: int, rng: np.random.Generator, velocity: int = 70
) -> pretty_midi.Instrument:
    """A new accompaniment part playing ``chords`` in ``style`` (one of ``STYLES``) on the beat grid."""
    if style not in STYLES:
        raise ParameterError(f"unknown accompaniment style {style!r} (choose from {', '.join(STYLES)})")
    part = pretty_midi.Instrument(program=program, name=f"accompaniment ({style})")
    low = int(rng.integers(48, 58))
    step = float(np.median(np.diff(beats))) if len(beats) > 1 else 0.5

    def add(pitch, start, end, vel=velocity):
        if end - start > 0.02:
            jitter = int(rng.integers(-8, 9))
            part.notes.append(pretty_midi.Note(int(np.clip(vel + jitter, 1, 127)), int(pitch), start, end))

    for chord in chords:
        tones = _voicing(chord, low)
        chord_beats = _beats_in(chord, beats)
        if style == "pad":
            for p in tones:
                add(p, chord.start, chord.end, velocity - 15)
        elif style == "block":
            for b in chord_beats[::2]:
                for p in tones:
                    add(p, b, min(b + 2 * step, chord.end) - 0.02)
        elif style == "strum":
            pattern = (0.0, 1.0, 1.5)  # down, down, up (in beats)
            for b in chord_beats:
                for offset in pattern:
                    t = b + offset * step * 0.5
                    if t >= chord.end:
                        continue
                    order = tones if offset != 1.5 else tones[::-1]
                    for k, p in enumerate(order + [tones[0] + 12]):
                        add(
                            p,
                            t + 0.012 * k,
                            min(t + step * 0.5, chord.end) - 0.01,
                            velocity - (10 if offset == 1.5 else 0),
                        )
        else:
            if style == "arpeggio":
                cycle = tones + [tones[0] + 12] + tones[1:][::-1]
            else:  # alberti: low, high, middle, high
                cycle = [tones[0], tones[-1], tones[1], tones[-1]]
            k = 0
            for b in chord_beats:
                for half in (0.0, 0.5):
                    t = b + half * step
                    if t < chord.end:
                        add(cycle[k % len(cycle)], t, min(t + step * 0.5, chord.end) - 0.01, velocity - 5)
                        k += 1
    return part


def bass_line(chords: list[Chord], beats: np.ndarray, program: int, rng: np.random.Generator) -> pretty_midi.Instrument:
    """Bass on the chord's bass note: on every beat, or root and fifth on alternate beats."""
    part = pretty_midi.Instrument(program=program, name="bass")
    walking = bool(rng.random() < 0.5)
    step = float(np.median(np.diff(beats))) if len(beats) > 1 else 0.5
    for chord in chords:
        bass = 36 + (chord.bass - 36) % 12
        for k, b in enumerate(_beats_in(chord, beats)):
            pitch = bass + 7 if walking and k % 2 == 1 else bass
            end = min(b + step * 0.9, chord.end)
            if end - b > 0.02:
                part.notes.append(pretty_midi.Note(int(rng.integers(80, 100)), int(pitch), b, end))
    return part


def drum_pattern(beats: np.ndarray, downbeats: np.ndarray, rng: np.random.Generator) -> pretty_midi.Instrument:
    """A rock/pop kit: kick on bar starts and mid-bar, snare on the back beats, hi-hat or ride on eighths."""
    kit = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
    cymbal = CLOSED_HAT if rng.random() < 0.7 else RIDE
    step = float(np.median(np.diff(beats))) if len(beats) > 1 else 0.5
    bar_position = np.cumsum(downbeats) - 1
    index_in_bar = np.zeros(len(beats), dtype=int)
    for i in range(1, len(beats)):
        index_in_bar[i] = 0 if downbeats[i] else index_in_bar[i - 1] + 1

    def hit(note, t, vel):
        kit.notes.append(pretty_midi.Note(int(np.clip(vel + rng.integers(-6, 7), 1, 127)), note, t, t + 0.08))

    for i, b in enumerate(beats):
        k = index_in_bar[i]
        if k % 2 == 0:
            hit(KICK, b, 95)
        else:
            hit(SNARE, b, 90)
        hit(cymbal, b, 70)
        hit(cymbal, b + step / 2, 55)
        if downbeats[i] and bar_position[i] % 8 == 0:
            hit(CRASH, b, 85)
    return kit


COLOURS = {  # what another arranger may play for a triad: sevenths, sixths, suspensions, an added ninth
    (0, 4, 7): ((0, 4, 7, 11), (0, 4, 7, 9), (0, 4, 7, 10), (0, 5, 7), (0, 2, 7), (0, 4, 7, 14)),
    (0, 3, 7): ((0, 3, 7, 10), (0, 3, 7, 10, 14), (0, 3, 7, 9)),
}


def reharmonise(chords: list[Chord], rate: float, rng: np.random.Generator) -> list[Chord]:
    """The chords as another arranger hears them: each triad, with probability ``rate``, coloured (a
    seventh, sixth, added ninth or suspension) or, a third of those times, replaced by its relative (a
    major chord by the minor a third below, a minor one by the major a third above, in root position)."""
    out = []
    for chord in chords:
        triad = chord.intervals[:3]
        if triad not in COLOURS or rng.random() >= rate:
            out.append(chord)
        elif rng.random() < 1 / 3:
            major = triad == (0, 4, 7)
            root = (chord.root + (-3 if major else 3)) % 12
            out.append(Chord(chord.start, chord.end, root, QUALITIES["min" if major else "maj"], root))
        else:
            colours = COLOURS[triad]
            out.append(Chord(chord.start, chord.end, chord.root, colours[int(rng.integers(len(colours)))], chord.bass))
    return out


def rephrase(
    part: pretty_midi.Instrument,
    rng: np.random.Generator,
    *,
    shift: float = 0.2,
    split: float = 0.1,
    ornament: float = 0.08,
    neighbour: float = 0.04,
) -> None:
    """Re-sing a monophonic line in place as another singer phrases it, on a grid of its typical note step
    (an eighth or a sixteenth): each note, with the probability given, anticipated (two times in three) or
    delayed by one step (``shift``); a long note re-sung as two, or two repeated notes tied into one
    (``split``); a grace note a step above or a semitone below leading into it (``ornament``); its pitch
    replaced by the note's before or after (``neighbour``). Notes stay in order and never overlap."""
    notes = sorted(part.notes, key=lambda n: n.start)
    if len(notes) < 2:
        return
    gaps = np.diff([n.start for n in notes])
    grid = float(np.clip(np.median(gaps[gaps > 0.05]) if (gaps > 0.05).any() else 0.25, 0.12, 0.5))
    pitches = [n.pitch for n in notes]
    out: list[pretty_midi.Note] = []
    for k, note in enumerate(notes):
        start, end, pitch = note.start, note.end, note.pitch
        if rng.random() < neighbour:
            pitch = (
                pitches[k - 1]
                if k and (k == len(notes) - 1 or rng.random() < 0.5)
                else pitches[min(k + 1, len(notes) - 1)]
            )
        floor = min(out[-1].start + 0.05, start) if out else 0.0  # never before the note already sung
        if rng.random() < shift:
            if rng.random() < 2 / 3:
                start = max(start - grid, floor)
            elif end - start > 1.5 * grid:
                start += grid
        if out and out[-1].pitch == pitch and start - out[-1].end < 0.05 and rng.random() < split:
            out[-1].end = end  # tied to the note before
            continue
        if rng.random() < ornament and start - grid / 2 > floor:
            grace = float(rng.uniform(0.06, 0.1))
            out.append(pretty_midi.Note(note.velocity, pitch + int(rng.choice([2, -1])), start - grace, start))
        if end - start > 3 * grid and rng.random() < split:
            middle = start + grid * int(rng.integers(1, int((end - start) / grid)))
            out.append(pretty_midi.Note(note.velocity, pitch, start, middle - 0.02))
            start = middle
        out.append(pretty_midi.Note(note.velocity, pitch, start, end))
    out.sort(key=lambda n: n.start)
    for previous, following in zip(out, out[1:]):
        previous.end = min(previous.end, following.start)
    part.notes = [n for n in out if n.end - n.start > 0.02]


def transpose(part: pretty_midi.Instrument, semitones: int) -> None:
    """Shift a melodic part in place (drums untouched), keeping pitches in MIDI range."""
    if not part.is_drum:
        for note in part.notes:
            note.pitch = int(np.clip(note.pitch + semitones, 0, 127))


def scale_tempo(midi: pretty_midi.PrettyMIDI, ratio: float) -> pretty_midi.PrettyMIDI:
    """A copy played ``ratio`` times faster (all event times divided by ``ratio``)."""
    return warp_times(midi, lambda t: np.asarray(t) / ratio)


def drift_tempo(
    midi: pretty_midi.PrettyMIDI, depth: float, rng: np.random.Generator, every: float = 4.0
) -> pretty_midi.PrettyMIDI:
    """A copy whose tempo wanders as a band's does: each ``every`` seconds are played exp(``depth`` · x)
    times faster, x a unit-variance random process that keeps 70 % of itself from one span to the next;
    the whole lasts as long as before."""
    end = max(midi.get_end_time(), every)
    knots = np.arange(0.0, end + every, every)
    x = np.zeros(len(knots))
    x[0] = rng.standard_normal()
    for k in range(1, len(knots)):
        x[k] = 0.7 * x[k - 1] + np.sqrt(1 - 0.7**2) * rng.standard_normal()
    rate = np.exp(depth * x)
    new_knots = np.concatenate([[0.0], np.cumsum(np.diff(knots) / rate[:-1])])
    new_knots *= knots[-1] / new_knots[-1]
    return warp_times(midi, lambda t: np.interp(t, knots, new_knots))


def sing(
    part: pretty_midi.Instrument,
    rng: np.random.Generator,
    *,
    vibrato_cents: float = 35.0,
    drift_cents: float = 15.0,
    rate: float = 50.0,
) -> None:
    """Bend a monophonic lead in place the way a voice moves: a glide into each note from the one before,
    vibrato (about 5.5 Hz, ``vibrato_cents`` deep) growing on held notes, and a slow drift of the intonation
    (``drift_cents``), as pitch-bend events ``rate`` times a second. A bend covers ±2 semitones (the
    General-MIDI default), so glides from further away start 2 semitones off."""
    notes = sorted(part.notes, key=lambda n: n.start)
    end = max((n.end for n in notes), default=0.0)
    t = np.arange(notes[0].start, end, 1.0 / rate) if notes else np.empty(0)
    if not len(t):
        return
    knots = np.arange(t[0], t[-1] + 2.0, 1.0)
    cents = drift_cents * np.interp(t, knots, rng.standard_normal(len(knots)))
    hz = rng.uniform(4.8, 6.2)
    for previous, note in zip([None, *notes[:-1]], notes):
        inside = (t >= note.start) & (t < note.end)
        since = t[inside] - note.start
        onset = np.zeros_like(since)
        if previous is not None and note.start - previous.end < 0.25:
            glide = rng.uniform(0.04, 0.12)
            onset = np.clip(100.0 * (previous.pitch - note.pitch), -200, 200) * np.clip(1 - since / glide, 0, None)
        swell = np.clip((since - 0.25) / 0.3, 0, 1)  # vibrato comes in after a quarter second
        cents[inside] += onset + vibrato_cents * swell * np.sin(2 * np.pi * hz * since)
    values = np.clip(np.round(cents / 200.0 * 8191), -8192, 8191).astype(int)
    keep = np.concatenate([[True], values[1:] != values[:-1]])
    part.pitch_bends = [pretty_midi.PitchBend(int(v), float(x)) for v, x in zip(values[keep], t[keep])]
    part.pitch_bends.append(pretty_midi.PitchBend(0, float(end)))
