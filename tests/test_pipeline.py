import numpy as np
import pytest

from homage import audio, pipeline
from homage.errors import AudioError, Failure, HomageError
from homage.features.cache import FeatureCache
from homage.models import get_embedder


def test_analyze_file_reuses_the_cached_embedding(piece_dir, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    embedder = get_embedder()
    first = pipeline.analyze_file(piece_dir / "work1" / "original.wav", embedder, cache)
    assert cache.misses == 3  # the embedding, the features it needs (once), the alignment sequence
    second = pipeline.analyze_file(piece_dir / "work1" / "original.wav", embedder, cache)
    assert cache.hits == 2 and cache.misses == 3  # straight from the embedding and sequence entries
    np.testing.assert_array_equal(first.vector, second.vector)
    np.testing.assert_array_equal(first.sequence, second.sequence)
    assert first.sequence.dtype == np.float16 and first.sequence.shape[1] == 24  # CRP chroma, then the top line
    assert first.duration == second.duration == pytest.approx(24.0, abs=0.1)


def test_a_new_file_is_decoded_once_for_its_pitch_and_its_words(piece_dir, tmp_path, monkeypatch):
    from homage.lyrics import TranscribeOptions, Transcript
    from homage.pipeline import analysis

    decodes, heard = [], []
    real_load = audio.load

    def counted_load(path, *args, **kwargs):
        decodes.append(str(path))
        return real_load(path, *args, **kwargs)

    def fake_transcribe(y, options):  # the words as Whisper would get them, without Whisper
        heard.append(len(y))
        return Transcript(options.identity)

    monkeypatch.setattr(audio, "load", counted_load)
    monkeypatch.setattr(analysis, "load_model", lambda name: None)
    monkeypatch.setattr(analysis, "transcribe", fake_transcribe)
    path = piece_dir / "work1" / "original.wav"
    cache = FeatureCache(tmp_path / "cache")
    item = pipeline.analyze_file(path, get_embedder(), cache, words=TranscribeOptions())
    assert decodes == [str(path)] and heard == [24 * 16000]
    assert item.words is not None and item.sequence is not None
    pipeline.analyze_file(path, get_embedder(), cache, words=TranscribeOptions())
    assert decodes == [str(path)]  # all of it cached: not decoded at all


def test_analyze_many_in_workers_matches_one_process(piece_dir):
    files = [(str(p), None) for p in sorted(piece_dir.rglob("*.*"))] + [(str(piece_dir / "missing.wav"), None)]
    embedder = get_embedder()
    serial = dict(pipeline.analyze_many(files, embedder, FeatureCache(None), workers=1))
    parallel = dict(pipeline.analyze_many(files, embedder, FeatureCache(None), workers=2))
    assert list(serial) == list(parallel) == [p for p, _ in files]  # order kept
    missing = str(piece_dir / "missing.wav")
    assert serial[missing] == parallel[missing] == Failure(missing, "no such file")
    for path, result in serial.items():
        if not isinstance(result, Failure):
            np.testing.assert_allclose(result.vector, parallel[path].vector, atol=1e-6)


def test_find_audio_skips_hidden_and_non_audio(tmp_path, piece_dir):
    (piece_dir / ".hidden.wav").write_bytes(b"")
    try:
        found = audio.find_audio(piece_dir)
        assert len(found) == 6 and all(not p.name.startswith(".") for p in found)
    finally:
        (piece_dir / ".hidden.wav").unlink()
    with pytest.raises(HomageError, match="no such folder"):
        audio.find_audio(tmp_path / "nowhere")


def test_compare_raises_audio_error_naming_the_file(piece_dir, tmp_path):
    with pytest.raises(AudioError, match="nothing.mp3: no such file"):
        pipeline.compare(piece_dir / "work1" / "original.wav", tmp_path / "nothing.mp3")
