"""The sung words as evidence: cleaning transcripts, abstaining, the words' similarity, shared lines with
their times; transcription of speech made offline (espeak-ng) over a synthesised accompaniment."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter

import numpy as np
import pytest

from homage import lyrics
from homage.lyrics.transcribe import Segment, Transcript, Word

from conftest import SR, synth_piece, write

needs_lyrics_extra = pytest.mark.skipif(
    not lyrics.available(), reason="the lyrics extra is not installed (pip install 'homage[lyrics]')"
)
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (run setup.sh)")

LINE = "the lighthouse keeper counts the boats that never come back home before the morning tide"
OTHER_A = "the river runs beside the mill where children gather stones and sing of summer rain"
OTHER_B = "a lantern burning in the window guides the sailor home across the winter harbour"


def transcript(*lines: str, start: float = 0.0, seconds_per_word: float = 0.4, **confidence) -> Transcript:
    """A transcript of ``lines``, one segment each, words evenly timed."""
    segments, t = [], start
    for line in lines:
        words = []
        for w in line.split():
            words.append(Word(w, round(t, 2), round(t + seconds_per_word, 2), 0.9))
            t += seconds_per_word
        segments.append(
            Segment(
                words[0].start,
                words[-1].end,
                line,
                confidence.get("avg_logprob", -0.3),
                confidence.get("no_speech_prob", 0.1),
                1.5,
                tuple(words),
            )
        )
    return Transcript("test", tuple(segments))


def test_tokens_normalise_case_punctuation_and_apostrophes():
    assert lyrics.text.tokens("Don't STOP, believin’!") == ["dont", "stop", "believin"]


def test_a_decoding_loop_is_kept_once_and_filler_is_dropped():
    looped = " ".join(["but im not sure if im going to do it"] * 6)
    cleaned = lyrics.clean(transcript("thank you", LINE, looped, "im going to go to the next one", LINE))
    words = cleaned.text.split()
    assert cleaned.text.count("but im not sure if im going to do it") == 1  # the loop, once
    assert "thank" not in words and "next" not in words  # filler segments and phrases cut out
    assert cleaned.text.count("lighthouse") == 1  # a repeated line counts once
    assert not cleaned.abstains


def test_instrumental_or_filler_only_transcripts_abstain():
    assert lyrics.clean(Transcript("test", ())).abstains
    assert lyrics.clean(transcript("thank you", "oh", "thanks for watching", "you")).abstains
    silence = transcript(LINE, avg_logprob=-1.5, no_speech_prob=0.9)  # Whisper's own no-speech test
    assert lyrics.clean(silence).abstains
    assert lyrics.clean(transcript(LINE)).terms()  # a real line does not


@needs_lyrics_extra  # the general-English background comes from wordfreq
def test_words_similarity_is_high_for_shared_lyrics_and_none_without_words():
    songs = [
        transcript(LINE, OTHER_A),
        transcript(OTHER_B, LINE),
        transcript(OTHER_A),
        transcript(OTHER_B),
        Transcript("t", ()),
    ]
    W = lyrics.similarity_matrix([lyrics.clean(t).terms() for t in songs])
    assert W[0, 1] > 0.4 and W[0, 1] > 2 * W[0, 3]  # the shared line dominates
    assert np.isnan(W[0, 4]) and np.isnan(W[4, 4])  # no lyric evidence, never a similarity


@needs_lyrics_extra  # the general-English background comes from wordfreq
def test_filler_and_stock_phrases_never_make_unrelated_songs_versions():
    """A catalog of unrelated songs that share only filler and stock lines: the words' evidence stays low,
    and the shipped calibration never says "version" from the words alone (chance-level pitch evidence)."""
    from homage.align.verdict import judge

    stock = ["i love you", "oh oh oh oh", "yeah yeah yeah", "thank you", "im going to go to the next one", "baby baby"]
    songs = [transcript(*stock, " ".join(f"word{n}x{k}" for k in range(20)), *stock) for n in range(12)]
    W = lyrics.similarity_matrix([lyrics.clean(t).terms() for t in songs])
    off = W[~np.eye(len(songs), dtype=bool)]
    assert np.nanmax(off) < 0.5
    chance = _chance_alignment()
    for w in off:
        assert judge(chance, 0.0, None if np.isnan(w) else float(w))[1] != "version"


def _chance_alignment():
    """The alignment of two unrelated synthesised pieces."""
    from homage.align import align_cqt
    from homage.features.cqt import CQTSpec

    spec = CQTSpec()
    return align_cqt(spec.compute(synth_piece(11, sr=spec.sr)), spec.compute(synth_piece(12, sr=spec.sr)))


@needs_lyrics_extra  # the general-English background comes from wordfreq
def test_shared_lines_name_the_run_and_its_times_in_both():
    a = lyrics.clean(transcript(OTHER_A, LINE, start=10.0))
    b = lyrics.clean(transcript(LINE, OTHER_B, start=30.0))
    (line, *_) = lyrics.shared_lines(a, b)
    assert line.text == LINE
    n = len(OTHER_A.split())
    assert line.a_start == pytest.approx(10.0 + 0.4 * n) and line.b_start == pytest.approx(30.0)
    assert line.a_end == pytest.approx(line.a_start + 0.4 * len(LINE.split()))
    assert lyrics.shared_lines(a, lyrics.clean(transcript(OTHER_B))) == []


@needs_lyrics_extra  # the general-English background comes from wordfreq
def test_document_frequencies_of_the_background_make_stock_words_light():
    common, rare = lyrics.text.idf({}, 0, "the"), lyrics.text.idf({}, 0, "troubles")
    assert rare > common + 1.0
    df, n = Counter({"troubles": 50}), 50  # a catalog where every song says it
    assert lyrics.text.idf(df, n, "troubles") < rare


# ---- transcription of speech made offline --------------------------------------------------------------
def spoken_clip(path, text: str, *, seed: int, lead: float = 2.0, seconds: float = 14.0):
    """``text`` spoken by espeak-ng from ``lead`` seconds on, over a quiet synthesised accompaniment."""
    import tempfile
    from pathlib import Path

    from homage import audio

    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-s", "150", "-w", str(raw), text], check=True, capture_output=True)
        speech = audio.load(raw, sr=SR)
    y = 0.15 * synth_piece(seed, seconds=seconds)
    start = int(lead * SR)
    y[start : start + len(speech)] += 0.8 * speech[: len(y) - start]
    return write(path, (0.9 * y / np.abs(y).max()).astype(np.float32))


@needs_lyrics_extra
@needs_espeak
def test_compare_finds_the_line_two_spoken_clips_share_with_its_times(tmp_path):
    from homage import pipeline

    a = spoken_clip(tmp_path / "a.wav", LINE, seed=1, lead=1.0)
    b = spoken_clip(tmp_path / "b.wav", f"{OTHER_B}. {LINE}", seed=2, lead=0.5, seconds=20.0)
    result = pipeline.compare(a, b)
    assert result.words is not None and result.words > 0.3
    best = max(result.lines, key=lambda line: len(line.text.split()))
    assert len(set(best.text.split()) & set(LINE.split())) >= 6  # the line, as Whisper heard it in both
    assert best.b_start > best.a_start + 2.5  # in B it comes after the other sentence
    assert result.to_json()["shared_lines"][0]["text"]
    from homage.reports import write_comparison_report

    report = write_comparison_report(result, tmp_path / "report").read_text()
    assert "## Shared lines" in report and f"| {best.text} |" in report and "real covers" in report


@needs_lyrics_extra
def test_an_instrumental_pair_has_no_lyric_evidence(tmp_path):
    from homage import pipeline

    a = write(tmp_path / "a.wav", synth_piece(1, seconds=14.0))
    b = write(tmp_path / "b.wav", synth_piece(1, transpose=2, seconds=14.0))
    result = pipeline.compare(a, b)
    assert result.words is None and result.lines == []
    assert pipeline.compare(a, b, words=False).probability == pytest.approx(result.probability)  # nothing either way


@needs_lyrics_extra
@needs_espeak
def test_the_catalog_keeps_words_finds_versions_by_them_and_transcribes_later(tmp_path):
    from homage import pipeline
    from homage.catalog import Catalog

    folder = tmp_path / "songs"
    spoken_clip(folder / "line.wav", LINE, seed=1)
    spoken_clip(folder / "river.wav", OTHER_A, seed=2)
    spoken_clip(folder / "lantern.wav", OTHER_B, seed=3)
    query = spoken_clip(tmp_path / "cover.wav", f"{LINE}. {LINE}", seed=4, lead=0.5, seconds=16.0)
    catalog = tmp_path / "catalog"
    first = pipeline.index_dir(folder, catalog, workers=1, words=False)
    assert first.added == 3 and first.transcribed == 0
    with Catalog(catalog) as opened:
        assert len(opened.without_words()) == 3
    again = pipeline.index_dir(folder, catalog, workers=1)  # words now: the three get them, nothing else changes
    assert again.transcribed == 3 and again.added == 0 and again.unchanged == 3
    with Catalog(catalog) as opened:
        assert opened.without_words() == []
        line_id = opened.get(str(folder / "line.wav")).id
        weights = lyrics.tfidf(
            Counter(lyrics.clean(transcript(LINE)).terms()), *opened.document_frequencies(LINE.split())
        )
        assert opened.words_search(weights, 1) == [line_id]  # the full-text first stage
    result = pipeline.query(query, catalog, k=3)
    assert result.ranking.endswith("+lyrics")
    top = result.matches[0]
    assert top.recording.path == str(folder / "line.wav") and top.words > 0.3 and top.lines
    assert pipeline.query(query, catalog, k=3, words=False).matches[0].words is None


@needs_lyrics_extra
def test_threads_asking_for_the_model_at_once_share_one_load(monkeypatch):
    import importlib
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    import faster_whisper

    transcription = importlib.import_module("homage.lyrics.transcribe")  # the module, not its function

    loads = []

    class SlowModel:
        def __init__(self, *args, **kwargs):
            loads.append(threading.get_ident())
            time.sleep(0.3)

    monkeypatch.setattr(faster_whisper, "WhisperModel", SlowModel)
    transcription._load_model.cache_clear()
    try:
        with ThreadPoolExecutor(4) as threads:
            models = list(threads.map(lambda _: transcription.load_model("tiny.en", threads=3), range(4)))
    finally:
        transcription._load_model.cache_clear()  # the fake never serves another test
    assert len(loads) == 1 and all(m is models[0] for m in models)
