import librosa
import numpy as np
import pytest

from homage import features
from homage.features import CQTSpec, FeatureCache, MelSpec, chroma_from_cqt, cqt, crp_chroma, log_mel

from conftest import SR, synth_piece, write


def tone(midi_pitch: int, seconds: float = 4.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    f = 440.0 * 2 ** ((midi_pitch - 69) / 12)
    return (0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32)


def test_cqt_shape_and_frame_rate():
    C = cqt(tone(60, seconds=4.0))
    assert C.shape == (84, 101)  # 4 s at 25 frames/s, centred frames
    assert C.dtype == np.float32 and (C >= 0).all()


def test_cqt_peak_is_at_the_played_pitch():
    C = cqt(tone(69))  # A4 = 440 Hz; bin 0 is C1 (MIDI 24)
    assert int(np.argmax(C[:, 50])) == 69 - 24


def test_chroma_folds_octaves_to_pitch_classes():
    for pitch in (60, 62, 67, 71):
        chroma = chroma_from_cqt(cqt(tone(pitch)))
        assert chroma.shape[0] == 12
        assert int(np.argmax(chroma[:, 50])) == pitch % 12


def test_a_recording_tuned_away_from_a440_keeps_its_pitch_classes():
    """A440 + 45 cents sits almost halfway to B flat: the CQT centred on the signal's tuning still puts
    the energy in A, where a CQT on the A440 grid splits it between the two."""
    chord = sum(tone(p, seconds=8.0) for p in (57, 61, 64))  # A major, 45 cents sharp after resampling
    sharp = librosa.resample(chord, orig_sr=SR, target_sr=SR / 2 ** (45 / 1200))
    assert features.estimate_tuning(chord) == pytest.approx(0.0, abs=0.03)
    assert features.estimate_tuning(sharp) == pytest.approx(0.45, abs=0.04)
    in_tune = crp_chroma(cqt(chord)).mean(axis=1)
    tuned, untuned = crp_chroma(cqt(sharp)).mean(axis=1), crp_chroma(cqt(sharp, tuned=False)).mean(axis=1)
    assert np.corrcoef(tuned, in_tune)[0, 1] > 0.95
    assert np.corrcoef(untuned, in_tune)[0, 1] < np.corrcoef(tuned, in_tune)[0, 1] - 0.1


def harmonic_tone(midi_pitch: int, weights, seconds: float = 4.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    f = 440.0 * 2 ** ((midi_pitch - 69) / 12)
    y = sum(w * np.sin(2 * np.pi * f * (h + 1) * t) for h, w in enumerate(weights))
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def test_crp_chroma_keeps_the_pitch_class_and_drops_the_timbre():
    mellow, bright = (1.0, 0.1, 0.02), (0.3, 1.0, 0.8, 0.7, 0.6)  # one note, two instruments' harmonics
    for pitch in (57, 60, 64):
        a, b = cqt(harmonic_tone(pitch, mellow)), cqt(harmonic_tone(pitch, bright))
        crp_a, crp_b = crp_chroma(a)[:, 50], crp_chroma(b)[:, 50]
        assert crp_a.shape == (12,) and int(np.argmax(crp_a)) == int(np.argmax(crp_b)) == pitch % 12

        def cosine(x, y):
            return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))

        plain = cosine(chroma_from_cqt(a)[:, 50], chroma_from_cqt(b)[:, 50])
        assert cosine(crp_a, crp_b) > plain  # the two instruments look more alike after CRP


def test_log_mel_shape_and_range():
    S = log_mel(tone(60, sr=22050, seconds=2.0))
    assert S.shape == (128, 87)
    assert S.max() == pytest.approx(0.0) and S.min() >= -80.0


def test_beats_follow_the_pulse():
    y = synth_piece(1, seconds=20)  # beat period 0.5 s
    C = cqt(y)
    beats = features.beat_frames(C)
    intervals = np.diff(beats) / CQTSpec().frame_rate
    assert np.median(intervals) in (
        pytest.approx(0.5, abs=0.05),
        pytest.approx(0.25, abs=0.05),
        pytest.approx(1.0, abs=0.1),
    )
    synced = features.beat_sync(chroma_from_cqt(C), beats)
    assert synced.shape == (12, len(beats) + 1)


def test_beat_crp_chroma_has_one_frame_per_beat_whatever_the_tempo():
    spec = CQTSpec()
    slow, fast = (
        features.beat_crp_chroma(cqt(synth_piece(1, seconds=s, tempo=t)), spec) for s, t in ((24, 1.0), (20, 1.2))
    )
    assert slow.shape[0] == fast.shape[0] == 12
    assert slow.max(axis=0) == pytest.approx(1.0)
    assert abs(slow.shape[1] - fast.shape[1]) <= 0.15 * slow.shape[1]  # the same beats at both tempi


def test_cache_hits_on_second_call_and_on_renamed_copy(tmp_path):
    path = write(tmp_path / "a.wav", synth_piece(1, seconds=5))
    cache = FeatureCache(tmp_path / "cache")
    first = cache.features(path, CQTSpec())
    second = cache.features(path, CQTSpec())
    assert (cache.misses, cache.hits) == (1, 1)
    np.testing.assert_array_equal(first, second)
    copy = tmp_path / "copy.wav"
    copy.write_bytes(path.read_bytes())
    cache.features(copy, CQTSpec())
    assert cache.hits == 2


def test_cache_misses_when_parameters_or_content_change(tmp_path):
    path = write(tmp_path / "a.wav", synth_piece(1, seconds=5))
    cache = FeatureCache(tmp_path / "cache")
    cache.features(path, CQTSpec())
    C72 = cache.features(path, CQTSpec(n_bins=72))
    assert C72.shape[0] == 72
    mel = cache.features(path, MelSpec())
    assert mel.shape[0] == 128
    write(path, synth_piece(2, seconds=5))
    cache.features(path, CQTSpec())
    assert (cache.misses, cache.hits) == (4, 0)


def test_damaged_cache_entry_is_recomputed(tmp_path):
    path = write(tmp_path / "a.wav", synth_piece(1, seconds=5))
    cache = FeatureCache(tmp_path / "cache")
    expected = cache.features(path, CQTSpec())
    (entry,) = (tmp_path / "cache").rglob("*.npy")
    entry.write_bytes(b"garbage")
    np.testing.assert_array_equal(cache.features(path, CQTSpec()), expected)
    assert cache.misses == 2


def test_disabled_cache_writes_nothing(tmp_path):
    path = write(tmp_path / "a.wav", synth_piece(1, seconds=5))
    FeatureCache(None).features(path, CQTSpec())
    assert not list(tmp_path.rglob("*.npy"))


def test_an_unwritable_cache_is_skipped_with_one_warning(tmp_path, monkeypatch):
    import warnings

    from homage.features.cache import CacheWarning

    y = synth_piece(1, seconds=4)
    path = tmp_path / "piece.wav"
    from conftest import write

    write(path, y)
    cache = FeatureCache(tmp_path / "cache")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("homage.features.cache.atomic_write", refuse)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = cache.features(path, CQTSpec())
        second = cache.features(path, CQTSpec())  # computed again, no second warning
    assert [type(w.message) for w in caught] == [CacheWarning]
    assert "cannot be written (Permission denied)" in str(caught[0].message)
    np.testing.assert_array_equal(first, second)


def test_a_one_second_clip_gives_no_librosa_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        C = cqt(synth_piece(2, seconds=1.0))
    assert C.shape[0] == 84 and C.shape[1] >= 25


BEATS_OF_A_CLICK_TRACK = """
import numpy as np
from homage.features.cqt import CQTSpec, beat_frames
y = np.zeros(16000 * 8, dtype=np.float32)
y[:: 8000] = 1.0  # a click every half second
print(len(beat_frames(CQTSpec(tuned=False).compute(y))))
"""


@pytest.mark.integration
def test_processes_that_first_track_beats_at_once_leave_a_cache_a_later_one_loads(tmp_path):
    """Four processes compiling librosa's cached beat kernels at the same moment (the workers of a first
    run on a fresh install), then a fifth that loads what they wrote: none crashes (numba issue #10128)."""
    import os
    import subprocess
    import sys
    import time

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "TMPDIR": str(tmp_path)}
    run = [sys.executable, "-c", BEATS_OF_A_CLICK_TRACK]
    first = []
    for _ in range(4):  # staggered, so that one finds some kernels cached that another is still compiling
        first.append(subprocess.Popen(run, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        time.sleep(0.7)
    results = [(*process.communicate(timeout=300), process.returncode) for process in first]
    fifth = subprocess.run(run, env=env, capture_output=True, timeout=300)
    results.append((fifth.stdout, fifth.stderr, fifth.returncode))
    for out, err, returncode in results:
        assert returncode == 0, err.decode()[-2000:]
        assert int(out) >= 4  # the clicks were tracked
    assert list((tmp_path / "numba").rglob("guf-*.nbc"))  # the kernels were cached, not compiled every time
