import numpy as np
import pytest

pretty_midi = pytest.importorskip(
    "pretty_midi", reason="MIDI rendering is the [data] extra (pip install 'homage[data]')"
)

from homage import audio
from homage.data.render import VersionParams, make_version, render
from homage.data.timing import excerpt
from homage.features import chroma_from_cqt, cqt

from conftest import needs_fluidsynth


def scale_midi(program: int = 0) -> pretty_midi.PrettyMIDI:
    """C major scale, one note per 0.5 s, plus a drum hit that must stay untouched."""
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=program)
    for i, pitch in enumerate([60, 62, 64, 65, 67, 69, 71, 72]):
        piano.notes.append(pretty_midi.Note(velocity=100, pitch=pitch, start=0.5 * i, end=0.5 * i + 0.45))
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes.append(pretty_midi.Note(velocity=100, pitch=36, start=0.0, end=0.1))
    midi.instruments += [piano, drums]
    return midi


def test_make_version_changes_instrument_tempo_and_key_not_the_notes_order():
    source = scale_midi()
    version = make_version(source, VersionParams(program=40, tempo_ratio=2.0, transpose=3))
    piano, drums = version.instruments
    assert piano.program == 40
    assert [n.pitch for n in piano.notes] == [p + 3 for p in (60, 62, 64, 65, 67, 69, 71, 72)]
    assert piano.notes[-1].start == pytest.approx(1.75)  # twice as fast
    assert drums.notes[0].pitch == 36  # drums are not transposed
    assert source.instruments[0].program == 0 and source.instruments[0].notes[0].pitch == 60  # source untouched


def test_excerpt_cuts_at_the_given_time():
    source = scale_midi()
    source.time_signature_changes.append(pretty_midi.TimeSignature(3, 4, 3.0))
    source.text_events.append(pretty_midi.Text("coda", 3.5))
    cut = excerpt(source, 1.2)
    assert [n.pitch for n in cut.instruments[0].notes] == [60, 62, 64]
    assert cut.get_end_time() <= 1.2  # late meta events would otherwise make the file end later


def test_make_version_scales_meta_events_too():
    source = scale_midi()
    source.text_events.append(pretty_midi.Text("end", 4.0))
    assert make_version(source, VersionParams(tempo_ratio=2.0)).get_end_time() == pytest.approx(2.0)


@needs_fluidsynth
@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_render_writes_audio_that_plays_the_notes(tmp_path, ext):
    path = render(make_version(scale_midi(), VersionParams(program=0, transpose=2)), tmp_path / f"scale.{ext}")
    y = audio.load(path, sr=16000)
    assert 4.0 <= len(y) / 16000 <= 8.0  # 4 s of notes plus the synthesizer's reverb tail
    chroma = chroma_from_cqt(cqt(y))
    first_note = int(np.argmax(chroma[:, 5:10].sum(axis=1)))
    assert first_note == 2  # C transposed up 2 semitones is D
