"""Edits of a MIDI file's time line — an excerpt, a span cut or played twice, a warp (tempo scaled or
drifting) — applied alike to everything timed in it: notes, controller changes, pitch bends, time and key
signatures, lyrics and text events.

One rule for the events that are not notes: one that *sets a state* (a controller value, a pitch bend, a
signature) keeps acting, so where an edit removes the time it was set at, its last value is set again where
that time was; a lyric or a text event is an *instant*, removed with its time. Pure functions over
``pretty_midi`` objects; each returns an edited copy.
"""

from __future__ import annotations

import copy

import numpy as np
import pretty_midi


def warp_times(midi: pretty_midi.PrettyMIDI, new_time) -> pretty_midi.PrettyMIDI:
    """A copy with every event at ``new_time(t)`` (an increasing map over arrays of seconds)."""
    out = copy.deepcopy(midi)
    for instrument in out.instruments:
        if instrument.notes:
            times = new_time(np.array([(n.start, n.end) for n in instrument.notes]))
            for note, (start, end) in zip(instrument.notes, times):
                note.start, note.end = float(start), float(end)
    for events in _event_lists(out):
        if events:
            for event, time in zip(events, new_time(np.array([e.time for e in events]))):
                event.time = float(time)
    return out


def excerpt(midi: pretty_midi.PrettyMIDI, seconds: float, start: float = 0.0) -> pretty_midi.PrettyMIDI:
    """``seconds`` of ``midi`` from ``start``, moved to time 0 (notes sounding at the edges are cut)."""
    end = start + seconds
    out = copy.deepcopy(midi)
    for instrument in out.instruments:
        instrument.notes = [n for n in instrument.notes if n.start < end and n.end > start]
        for note in instrument.notes:
            note.start, note.end = max(note.start, start) - start, min(note.end, end) - start
    _edit_events(out, lambda events: _window(events, start, end))
    return out


def cut_span(midi: pretty_midi.PrettyMIDI, start: float, end: float) -> pretty_midi.PrettyMIDI:
    """A copy without [start, end): later events move earlier, notes crossing ``start`` are cut there."""
    return _splice(midi, start, end, repeat=False)


def repeat_span(midi: pretty_midi.PrettyMIDI, start: float, end: float) -> pretty_midi.PrettyMIDI:
    """A copy with [start, end) played twice: later events move later by its length."""
    return _splice(midi, start, end, repeat=True)


def _splice(midi: pretty_midi.PrettyMIDI, start: float, end: float, repeat: bool) -> pretty_midi.PrettyMIDI:
    span = end - start
    shift = span if repeat else -span
    out = copy.deepcopy(midi)
    for instrument in out.instruments:
        notes = []
        for note in instrument.notes:
            if note.start >= end:
                note.start, note.end = note.start + shift, note.end + shift
            elif note.start >= start:
                if not repeat:
                    continue
                notes.append(pretty_midi.Note(note.velocity, note.pitch, note.start + span, note.end + span))
                note.end = min(note.end, end)
            elif not repeat:
                note.end = min(note.end, start)
            notes.append(note)
        instrument.notes = sorted(notes, key=lambda n: n.start)
    _edit_events(out, lambda events: (_repeat if repeat else _cut)(events, start, end))
    return out


def _event_lists(midi: pretty_midi.PrettyMIDI) -> list[list]:
    lists = [midi.time_signature_changes, midi.key_signature_changes, midi.lyrics, midi.text_events]
    for instrument in midi.instruments:
        lists += [instrument.control_changes, instrument.pitch_bends]
    return lists


def _edit_events(midi: pretty_midi.PrettyMIDI, edit) -> None:
    """Replace each of the file's event lists by ``edit(events)``, in time order."""
    for events in _event_lists(midi):
        events[:] = sorted(edit(sorted(events, key=lambda e: e.time)), key=lambda e: e.time)


def _state_key(event) -> object | None:
    """What an event sets (its controller number, or its kind); None for an instant (lyric, text)."""
    if isinstance(event, pretty_midi.Lyric | pretty_midi.Text):
        return None
    return getattr(event, "number", type(event).__name__)


def _last_states(events: list) -> list:
    """The last event of each state among ``events`` (in time order); instants are left out."""
    last = {}
    for event in events:
        if (key := _state_key(event)) is not None:
            last[key] = event
    return list(last.values())


def _window(events: list, start: float, end: float) -> list:
    before = [e for e in events if e.time < start]
    kept = (_last_states(before) if start > 0 else []) + [e for e in events if start <= e.time < end]
    for event in kept:
        event.time = max(event.time - start, 0.0)
    return kept


def _cut(events: list, start: float, end: float) -> list:
    """Events of [start, end) go; the states they set last are set at ``start``; later events move earlier."""
    span = end - start
    before = [e for e in events if e.time < start]
    inside = [e for e in events if start <= e.time < end]
    after = [e for e in events if e.time >= end]
    for event in after:
        event.time -= span
    restated = _last_states(inside)
    for event in restated:
        event.time = start
    return before + restated + after


def _repeat(events: list, start: float, end: float) -> list:
    """Events of [start, end) happen again one span later, after the states in force at ``start`` are set
    again; later events move later."""
    span = end - start
    inside = [e for e in events if start <= e.time < end]
    changed = {_state_key(e) for e in inside} - {None}
    restated = [copy.copy(e) for e in _last_states([e for e in events if e.time < start]) if _state_key(e) in changed]
    again = [copy.copy(e) for e in inside]
    for event in [e for e in events if e.time >= end] + again:
        event.time += span
    for event in restated:
        event.time = end
    return events + restated + again
