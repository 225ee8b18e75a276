"""Versions of one work, drawn the way covers differ: arrangement, instruments, tempo, key, structure.

``work_versions(work, n, seconds, rng)`` returns ``n`` ``Version``s as MIDI (or, for recorded audio,
an excerpt), each with the parameters that made it (they go into the manifest).

POP909 versions: the original arrangement (re-orchestrated), an earlier arrangement draft, and
re-arrangements: the melody on a lead instrument (sometimes an octave away) over a new accompaniment
generated from the chord labels (block, arpeggio, strum, Alberti or pad), with or without bass and drums.
A build may instead ask for POP909 versions of named kinds (``arrangements``), such as "melody": the
melody line alone on a lead instrument, the way borrowed material often reappears.
ASAP versions: different pianists' performances (and the score), on piano or another keyboard/string sound.
Every version also gets its own tempo (±25 %), key (±6 semitones), excerpt position and, sometimes, a
cut or repeated span of a few bars. Humanized builds also sing the leads and let the tempo wander (``perform``);
reinterpreted ones give each version its own reading of the melody and, in re-arrangements, of the chords
(``reinterpret_leads``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pretty_midi

from homage.data import arrange, timing
from homage.data.sources import Work
from homage.data.timing import excerpt
from homage.errors import HomageError

LEAD_PROGRAMS = (0, 4, 11, 16, 22, 24, 26, 40, 52, 53, 54, 56, 65, 66, 68, 71, 73, 80, 81, 85)
CHORD_PROGRAMS = {
    "block": (0, 1, 4, 5, 16, 19, 48, 61, 88),
    "pad": (16, 19, 48, 49, 50, 52, 88, 89),
    "strum": (24, 25, 26, 27, 29),
    "arpeggio": (0, 4, 6, 8, 11, 24, 46),
    "alberti": (0, 1, 4, 6, 46),
}
BASS_PROGRAMS = (32, 33, 34, 35, 38, 43)
KEYBOARD_PROGRAMS = (0, 1, 2, 4, 6, 7, 11, 12, 16, 19, 21, 24, 46, 48)
MIN_NOTES = 8
LEAD_NAMES = ("MELODY", "BRIDGE")  # the parts a singer would take
SECTION_EDITS_FROM = 90.0  # seconds: performed versions this long may leave out or repeat a section
POP909_ARRANGEMENTS = ("original", "draft", "rearranged", "melody")


@dataclass
class Version:
    version_id: str
    params: dict
    midi: pretty_midi.PrettyMIDI | None = None
    audio_offset: float | None = None  # recorded sources: where the excerpt starts


class SourceError(HomageError):
    """A source file that cannot make versions (unreadable, empty, unsupported)."""


def work_versions(
    work: Work,
    n: int,
    seconds: float,
    rng: np.random.Generator,
    arrangements: tuple[str, ...] = (),
    humanize: bool = False,
    reinterpret: bool = False,
) -> list[Version]:
    """``n`` versions of ``work``; POP909 works get one of each of ``arrangements`` instead, when given;
    ``reinterpret``: each its own reading of the melody and chords (see ``reinterpret_leads``); ``humanize``:
    each played the way people play (see ``perform``)."""
    if work.source == "pop909":
        versions = pop909_versions(work, n, seconds, rng, arrangements, reinterpret)
    elif work.source == "asap":
        versions = asap_versions(work, n, seconds, rng)
    elif work.source == "audio":
        return [audio_version(work, seconds, rng)]
    else:
        raise SourceError(f"unsupported source {work.source!r}")
    for version in versions:
        if reinterpret:
            reinterpret_leads(version.midi, version.params, rng)
        if humanize:
            version.midi = perform(version.midi, version.params, rng)
    return versions


def reinterpret_leads(midi: pretty_midi.PrettyMIDI, params: dict, rng: np.random.Generator) -> None:
    """Re-sing the lead parts of ``midi`` in place as another singer phrases them (``arrange.rephrase``, at
    rates drawn per version); the rates go into ``params``."""
    rates = {
        "shift": round(float(rng.uniform(0.1, 0.35)), 3),
        "split": round(float(rng.uniform(0.0, 0.2)), 3),
        "ornament": round(float(rng.uniform(0.0, 0.15)), 3),
        "neighbour": round(float(rng.uniform(0.0, 0.08)), 3),
    }
    for part in midi.instruments:
        if part.name.upper() in LEAD_NAMES and not part.is_drum:
            arrange.rephrase(part, rng, **rates)
    params["rephrased"] = rates


def perform(midi: pretty_midi.PrettyMIDI, params: dict, rng: np.random.Generator) -> pretty_midi.PrettyMIDI:
    """``midi`` played the way people play it rather than as written: its lead parts sung (glides, vibrato,
    drifting intonation: ``arrange.sing``), its tempo wandering by a few percent (``arrange.drift_tempo``),
    and in a long version a section left out or played twice; the settings go into ``params``."""
    vibrato = {}
    for part in midi.instruments:
        if part.name.upper() in LEAD_NAMES and not part.is_drum:
            vibrato[part.name] = round(float(rng.uniform(15, 50)), 1)
            arrange.sing(part, rng, vibrato_cents=vibrato[part.name])
    drift = round(float(rng.uniform(0.02, 0.08)), 3)
    params["performed"] = {"vibrato_cents": vibrato, "tempo_drift": drift, "sections": _section_edits(midi, rng)}
    return arrange.drift_tempo(_edit_sections(midi, params["performed"]["sections"]), drift, rng)


def _section_edits(midi: pretty_midi.PrettyMIDI, rng: np.random.Generator) -> list[dict]:
    """For a version longer than ``SECTION_EDITS_FROM`` seconds, as a band plays a song its own way: each
    with even odds, a section (10–30 s) left out and one played twice; the later edit first, so times stay
    those of the version as written."""
    end = midi.get_end_time()
    if end < SECTION_EDITS_FROM:
        return []
    edits = []
    for kind in ("cut", "repeat"):
        if rng.random() < 0.5:
            length = float(rng.uniform(10, 30))
            start = float(rng.uniform(10, end - length - 10))
            edits.append({"kind": kind, "start": round(start, 2), "end": round(start + length, 2)})
    return sorted(edits, key=lambda e: -e["start"])


def _edit_sections(midi: pretty_midi.PrettyMIDI, edits: list[dict]) -> pretty_midi.PrettyMIDI:
    for edit in edits:
        midi = _edit(midi, edit["kind"], edit["start"], edit["end"])
    return midi


def _edit(midi: pretty_midi.PrettyMIDI, kind: str, start: float, end: float) -> pretty_midi.PrettyMIDI:
    """A copy with [start, end) cut out (``kind`` "cut") or played twice ("repeat")."""
    return (timing.cut_span if kind == "cut" else timing.repeat_span)(midi, start, end)


def read_midi(path: str) -> pretty_midi.PrettyMIDI:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pretty_midi warns about tempo events on non-zero tracks
            midi = pretty_midi.PrettyMIDI(path)
    except Exception as exc:  # mido/pretty_midi raise many kinds on bad files
        raise SourceError(f"{path}: unreadable MIDI ({type(exc).__name__}: {exc})") from exc
    if sum(len(i.notes) for i in midi.instruments) < MIN_NOTES:
        raise SourceError(f"{path}: fewer than {MIN_NOTES} notes")
    return midi


def _draw_common(rng: np.random.Generator, tempo_range: float = 0.25) -> dict:
    return {
        "tempo_ratio": round(float(rng.uniform(1 - tempo_range, 1 + tempo_range)), 3),
        "transpose": int(rng.integers(-6, 7)),
    }


def _structure_edit(midi: pretty_midi.PrettyMIDI, window: tuple[float, float], bar: float, rng) -> tuple:
    """Sometimes cut or repeat 2–4 bars inside the excerpt window (score time)."""
    roll = rng.random()
    if roll > 0.4 or window[1] - window[0] < 12 * bar:
        return midi, None
    length = bar * int(rng.integers(2, 5))
    start = window[0] + bar * int(rng.integers(1, max(2, int((window[1] - window[0] - length) / bar))))
    edit = {"kind": "cut" if roll < 0.2 else "repeat", "start": round(start, 2), "end": round(start + length, 2)}
    return _edit(midi, edit["kind"], start, start + length), edit


def _finish(midi, params: dict, window_start: float, seconds: float) -> pretty_midi.PrettyMIDI:
    """Excerpt the score window that lasts ``seconds`` at the version's tempo, then change tempo and key."""
    ratio = params["tempo_ratio"]
    out = arrange.scale_tempo(excerpt(midi, seconds * ratio, window_start), ratio)
    for part in out.instruments:
        arrange.transpose(part, params["transpose"])
    if sum(len(p.notes) for p in out.instruments) < MIN_NOTES:
        raise SourceError("excerpt has too few notes")
    return out


def pop909_versions(
    work: Work,
    n: int,
    seconds: float,
    rng: np.random.Generator,
    arrangements: tuple[str, ...] = (),
    reharmonise: bool = False,
) -> list[Version]:
    """The original, sometimes a draft, re-arrangements up to ``n``; or one version of each ``arrangements``
    kind (a work without drafts makes none of that kind); ``reharmonise``: re-arrangements change some of
    the chords (``arrange.reharmonise``)."""
    song = read_midi(work.files[0])
    chords = arrange.read_chords(work.chords)
    beats, downbeats = arrange.read_beats(work.beats)
    if not chords or len(beats) < 8:
        raise SourceError(f"{work.chords}: no usable chord or beat annotations")
    tracks = {i.name.upper(): i for i in song.instruments}
    melody = tracks.get("MELODY") or song.instruments[0]
    bar = float(np.median(np.diff(beats[downbeats]))) if downbeats.sum() > 1 else 4 * float(np.median(np.diff(beats)))
    first_note = min(n.start for n in melody.notes) if melody.notes else 0.0
    end = song.get_end_time()
    anchor = float(rng.uniform(max(first_note - 2, 0), max(first_note - 2, end - seconds * 1.3, 0)))
    drafts = list(work.files[1:])
    if arrangements:
        kinds = [k for k in arrangements if k != "draft" or drafts]
    else:
        kinds = ["original"] + (["draft"] if drafts and rng.random() < 0.6 else [])
        kinds = (kinds + ["rearranged"] * (n - len(kinds)))[:n]

    versions = []
    for k, kind in enumerate(kinds):
        params = {"arrangement": kind, **_draw_common(rng)}
        if kind == "original":
            midi = _orchestrate(song, params, rng)
        elif kind == "draft":
            draft = drafts[int(rng.integers(len(drafts)))]
            midi = _orchestrate(read_midi(draft), params, rng)
            params["draft"] = draft.rsplit("/", 1)[-1]
        elif kind == "melody":
            midi = _melody_alone(melody, params, rng)
        else:
            heard = chords
            if reharmonise:
                params["reharmonised"] = round(float(rng.uniform(0.1, 0.4)), 3)
                heard = arrange.reharmonise(chords, params["reharmonised"], rng)
            midi = _rearrange(melody, heard, beats, downbeats, song, params, rng)
        jitter = float(rng.uniform(-0.15, 0.15)) * seconds
        window = (max(anchor + jitter, 0.0), max(anchor + jitter, 0.0) + seconds * params["tempo_ratio"])
        midi, params["structure"] = _structure_edit(midi, window, bar, rng)
        params["score_start"] = round(window[0], 2)
        versions.append(Version(f"v{k}", params, _finish(midi, params, window[0], seconds)))
    return versions


def _orchestrate(song: pretty_midi.PrettyMIDI, params: dict, rng) -> pretty_midi.PrettyMIDI:
    """The written arrangement with new instruments: a lead for the melody, others for the rest."""
    out = pretty_midi.PrettyMIDI(initial_tempo=120)
    programs = {}
    for part in song.instruments:
        copy = pretty_midi.Instrument(program=part.program, is_drum=part.is_drum, name=part.name)
        copy.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in part.notes]
        copy.control_changes = list(part.control_changes)
        if not part.is_drum:
            name = part.name.upper()
            pool = LEAD_PROGRAMS if name in LEAD_NAMES else KEYBOARD_PROGRAMS
            copy.program = int(rng.choice(pool))
            programs[part.name or f"part{len(programs)}"] = copy.program
        out.instruments.append(copy)
    params["programs"] = programs
    return out


def _melody_alone(melody, params: dict, rng) -> pretty_midi.PrettyMIDI:
    """The melody line alone on a lead instrument, sometimes an octave away."""
    out = pretty_midi.PrettyMIDI(initial_tempo=120)
    out.instruments.append(_lead(melody, params, rng))
    params["programs"] = {"melody": out.instruments[0].program}
    return out


def _lead(melody, params: dict, rng) -> pretty_midi.Instrument:
    """A copy of the melody on a random lead instrument, shifted by an octave a fifth of the time each way."""
    lead = pretty_midi.Instrument(program=int(rng.choice(LEAD_PROGRAMS)), name="melody")
    lead.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in melody.notes]
    octave = int(rng.choice([-12, 0, 0, 0, 12]))
    arrange.transpose(lead, octave)
    params["melody_octave"] = octave
    return lead


def _rearrange(melody, chords, beats, downbeats, song, params: dict, rng) -> pretty_midi.PrettyMIDI:
    """Melody on a lead instrument over a generated accompaniment, bass and drums."""
    out = pretty_midi.PrettyMIDI(initial_tempo=120)
    lead = _lead(melody, params, rng)
    style = str(rng.choice(arrange.STYLES))
    chord_program = int(rng.choice(CHORD_PROGRAMS[style]))
    out.instruments += [lead, arrange.accompaniment(chords, beats, style, chord_program, rng)]
    params.update(style=style, programs={"melody": lead.program, "accompaniment": chord_program})
    if rng.random() < 0.7:
        bass = arrange.bass_line(chords, beats, int(rng.choice(BASS_PROGRAMS)), rng)
        out.instruments.append(bass)
        params["programs"]["bass"] = bass.program
    params["drums"] = bool(rng.random() < 0.5)
    if params["drums"]:
        out.instruments.append(arrange.drum_pattern(beats, downbeats, rng))
    bridge = next((i for i in song.instruments if i.name.upper() == "BRIDGE"), None)
    if bridge is not None and bridge.notes and rng.random() < 0.3:
        second = pretty_midi.Instrument(program=int(rng.choice(LEAD_PROGRAMS)), name="bridge")
        second.notes = [pretty_midi.Note(max(n.velocity - 15, 1), n.pitch, n.start, n.end) for n in bridge.notes]
        out.instruments.append(second)
        params["programs"]["bridge"] = second.program
    return out


def asap_versions(work: Work, n: int, seconds: float, rng: np.random.Generator) -> list[Version]:
    """Each pianist's performance (then the score) as a version; more than there are reuse them re-voiced."""
    files = list(work.files)
    order = [files[i] for i in rng.permutation(len(files) - 1)] + [files[-1]]
    versions = []
    for k in range(n):
        path = order[k % len(order)]
        params = {
            "arrangement": "score" if path == files[-1] else "performance",
            "performance": path.rsplit("/", 1)[-1],
            **_draw_common(rng, tempo_range=0.1),
        }
        if rng.random() < 0.5:
            params["transpose"] = 0
        program = 0 if rng.random() < 0.5 else int(rng.choice(KEYBOARD_PROGRAMS))
        midi = read_midi(path)
        for part in midi.instruments:
            part.program = program
        params["programs"] = {"all": program}
        start = float(rng.uniform(0, 3))
        params["score_start"] = round(start, 2)
        versions.append(Version(f"v{k}", params, _finish(midi, params, start, seconds)))
    return versions


def audio_version(work: Work, seconds: float, rng: np.random.Generator) -> Version:
    """A ``seconds`` excerpt of a recording at a random position."""
    from homage import audio

    info = audio.probe(work.files[0])
    offset = float(rng.uniform(0, max(info.duration - seconds, 0)))
    return Version("v0", {"arrangement": "recording", "offset": round(offset, 2)}, audio_offset=offset)
