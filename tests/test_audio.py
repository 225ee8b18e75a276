from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from homage import audio
from homage.errors import AudioError

from conftest import SR, ffmpeg_encode, synth_piece, write


@pytest.fixture(scope="module")
def stereo_wav(tmp_path_factory) -> Path:
    """3 s stereo 44.1 kHz: a 440 Hz tone on the left, 660 Hz on the right."""
    t = np.arange(3 * 44100) / 44100
    y = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 660 * t)], axis=1)
    return write(tmp_path_factory.mktemp("audio") / "tone.wav", y.astype(np.float32), 44100)


@pytest.mark.parametrize(
    "ext,args",
    [("wav", []), ("flac", []), ("ogg", ["-c:a", "libvorbis"]), ("mp3", []), ("m4a", ["-c:a", "aac"]), ("opus", [])],
)
def test_each_format_decodes_to_mono_at_requested_rate(stereo_wav, tmp_path, ext, args):
    path = stereo_wav if ext == "wav" else ffmpeg_encode(stereo_wav, tmp_path / f"tone.{ext}", *args)
    y = audio.load(path, sr=SR)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) / SR - 3.0) < 0.1  # encoder padding of lossy codecs stays small
    spectrum = np.abs(np.fft.rfft(y[SR // 2 : SR // 2 + SR]))  # 1 s → 1 Hz bins
    assert {int(np.argmax(spectrum[300:500])) + 300, int(np.argmax(spectrum[600:700])) + 600} <= {
        439,
        440,
        441,
        659,
        660,
        661,
    }  # both channels survive the down-mix
    assert audio.probe(path).channels == 2


def test_offset_and_duration_select_an_excerpt(stereo_wav):
    y = audio.load(stereo_wav, sr=8000, offset=1.0, duration=1.5)
    assert len(y) == pytest.approx(12000, abs=10)


def test_resampling_keeps_pitch(stereo_wav):
    y = audio.load(stereo_wav, sr=22050)
    spectrum = np.abs(np.fft.rfft(y[:22050]))
    assert int(np.argmax(spectrum)) in (439, 440, 441, 659, 660, 661)


def test_tags_are_read_when_present(stereo_wav, tmp_path):
    mp3 = ffmpeg_encode(stereo_wav, tmp_path / "tagged.mp3", "-metadata", "title=Song", "-metadata", "artist=Band")
    assert audio.read_tags(mp3) == {"title": "Song", "artist": "Band"}
    assert audio.read_tags(stereo_wav) == {}


def test_file_hash_follows_content_not_name(stereo_wav, tmp_path):
    copy = tmp_path / "renamed.wav"
    copy.write_bytes(stereo_wav.read_bytes())
    assert audio.file_hash(copy) == audio.file_hash(stereo_wav)
    copy.write_bytes(stereo_wav.read_bytes()[:-2] + b"\x01\x02")
    assert audio.file_hash(copy) != audio.file_hash(stereo_wav)


# ---- bad input: each case raises AudioError naming the file and the reason --------------------------
def _reason(path, **kwargs) -> str:
    with pytest.raises(AudioError) as info:
        audio.load(path, **kwargs)
    assert str(path) in str(info.value)
    return info.value.reason


def test_missing_file(tmp_path):
    assert _reason(tmp_path / "nope.wav") == "no such file"


def test_zero_byte_file(tmp_path):
    empty = tmp_path / "empty.mp3"
    empty.touch()
    assert "empty file" in _reason(empty)


def test_non_audio_file(tmp_path):
    text = tmp_path / "notes.mp3"
    text.write_text("these are not the droids you are looking for\n" * 20)
    assert "not a readable audio file" in _reason(text)
    fake_wav = tmp_path / "fake.wav"
    fake_wav.write_bytes(b"\x00\x01" * 1000)
    assert "not a readable audio file" in _reason(fake_wav)


@pytest.mark.parametrize("ext", ["wav", "mp3", "flac"])
def test_truncated_file(stereo_wav, tmp_path, ext):
    full = stereo_wav if ext == "wav" else ffmpeg_encode(stereo_wav, tmp_path / f"full.{ext}")
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    reason = _reason(cut)
    assert "truncated" in reason or "decoding failed" in reason or "not a readable" in reason


def test_silent_file(tmp_path):
    silent = write(tmp_path / "silence.flac", np.zeros(5 * SR, dtype=np.float32))
    assert "silent" in _reason(silent)


def test_too_short_file(tmp_path):
    short = write(tmp_path / "blip.wav", synth_piece(1, seconds=0.4))
    assert "too short" in _reason(short)


def test_multi_hour_file_is_refused_from_its_header(tmp_path):
    """A 3-hour WAV (sparse on disk) is refused before any decoding."""
    path = tmp_path / "three-hours.wav"
    with sf.SoundFile(path, "w", samplerate=8000, channels=1, subtype="PCM_16") as out:
        out.write(np.zeros(8000, dtype=np.float32))
    n_bytes = 3 * 3600 * 8000 * 2
    with open(path, "r+b") as fh:  # rewrite the RIFF and data sizes, extend the file sparsely
        header = fh.read(64)
        data_at = header.index(b"data") + 4
        fh.seek(4)
        fh.write((data_at + 4 + n_bytes - 8).to_bytes(4, "little"))
        fh.seek(data_at)
        fh.write(n_bytes.to_bytes(4, "little"))
        fh.truncate(data_at + 4 + n_bytes)
    assert audio.probe(path).duration == pytest.approx(3 * 3600)
    assert "too long (3.0 h" in _reason(path)


def test_the_longest_accepted_duration_is_configurable(tmp_path):
    path = write(tmp_path / "piece.wav", synth_piece(1, seconds=8))
    assert "too long" in _reason(path, max_seconds=5.0)
    assert len(audio.load(path, max_seconds=10.0)) == 8 * SR


def test_decoding_in_several_threads_leaves_stderr_where_it_was(tmp_path):
    """Threads that open files at once (the API decodes on a thread pool) never leave fd 2 silenced."""
    import subprocess
    import sys

    song = write(tmp_path / "song.wav", synth_piece(1, seconds=3.0))
    script = f"""
import os, threading
from homage import audio
def work():
    for _ in range(30):
        audio.load({str(song)!r}, sr=16000)
        audio.probe({str(song)!r})
threads = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
os.write(2, b"stderr still reaches its file\\n")
"""
    log = tmp_path / "stderr.log"
    with open(log, "wb") as err:
        subprocess.run([sys.executable, "-c", script], stderr=err, check=True, timeout=120)
    assert "stderr still reaches its file" in log.read_text()
