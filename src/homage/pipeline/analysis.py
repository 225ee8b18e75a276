"""What homage reads of one audio file, computed once and cached: its embedding and alignment sequence."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from homage import audio, lyrics
from homage.align import AlignConfig, Alignment, Prepared, align_sequences, alignment_sequence
from homage.catalog import NewRecording, Words
from homage.config import stable_hash
from homage.errors import Failure
from homage.features.cache import FeatureCache
from homage.features.cqt import CQTSpec
from homage.lyrics import SAMPLE_RATE, TranscribeOptions, Transcript, load_model, transcribe
from homage.models import Embedder
from homage.parallel import Executor, as_executor

ALIGN_CONFIG = AlignConfig()
# How the stored alignment sequences are computed: a catalog sets aside those computed otherwise.
SEQUENCE_KIND = f"crp+top-line@{ALIGN_CONFIG.frame_rate:g}fps#{stable_hash(CQTSpec(), 8)}"


def analyze_file(
    path: str | Path,
    embedder: Embedder,
    cache: FeatureCache,
    *,
    content_hash: str | None = None,
    sequence: bool = True,
    words: TranscribeOptions | None = None,
    max_seconds: float = audio.MAX_SECONDS,
) -> NewRecording:
    """Decode, extract features, embed one file, (with ``sequence``) compute its alignment sequence and
    (with ``words``) transcribe its words, reusing what the cache holds; each feature is computed at most
    once. Raises AudioError on bad input.

    The cached embedding entry holds the vector followed by the duration in seconds.
    """
    path = audio.absolute(path)
    content_hash = content_hash or audio.file_hash(path)
    features: dict = {}
    problems: list[str] = []
    # decoded at most once, and only on a cache miss: the pitch features and the words read the same 16 kHz
    decoded = _Once(lambda: audio.load(path, sr=SAMPLE_RATE, max_seconds=max_seconds, on_warning=problems.append))

    def feature(spec) -> np.ndarray:
        if spec not in features:
            features[spec] = cache.features(
                path,
                spec,
                content_hash=content_hash,
                max_seconds=max_seconds,
                on_warning=problems.append,
                decoded=decoded if spec.sr == SAMPLE_RATE else None,
            )
        return features[spec]

    def embed() -> np.ndarray:
        X = feature(embedder.feature)
        return np.append(embedder.embed(X), X.shape[-1] / embedder.feature.frame_rate).astype(np.float32)

    with ThreadPoolExecutor(1) as beside:  # the words are transcribed while the pitch features are computed
        transcript = (
            beside.submit(transcript_of, path, cache, words, content_hash=content_hash, decoded=decoded)
            if words is not None
            else None
        )
        entry = cache.get_or_compute("embedding", embedder.identity, content_hash, embed)
        seq = _cached_sequence(cache, content_hash, lambda: feature(CQTSpec())) if sequence else None
        found = words_of(transcript.result()) if transcript is not None else None
    tags = audio.read_tags(path)
    return NewRecording(
        str(path),
        content_hash,
        entry[:-1],
        float(entry[-1]),
        tags.get("title"),
        tags.get("artist"),
        tags.get("album"),
        seq,
        found,
        tuple(dict.fromkeys(problems)),
    )


def analyze_pair(
    a: str | Path,
    b: str | Path,
    embedder: Embedder,
    cache: FeatureCache,
    *,
    words: TranscribeOptions | None = None,
    max_seconds: float = audio.MAX_SECONDS,
) -> tuple[NewRecording, NewRecording]:
    """:func:`analyze_file` of two files at once, on two threads (decoding, the CQT and transcription
    release the GIL): a comparison of two new files waits for the slower one, not for both."""
    with ThreadPoolExecutor(2) as threads:
        ea, eb = threads.map(lambda p: analyze_file(p, embedder, cache, words=words, max_seconds=max_seconds), (a, b))
    return ea, eb


def transcription(words: bool | None, model: str | None = None) -> TranscribeOptions | None:
    """How to transcribe the words, or None for no words: ``words`` None means when this installation can
    transcribe; ``model`` a faster-whisper model by name or folder (default: the packaged ``tiny.en``)."""
    if not (lyrics.available() if words is None else words):
        return None
    return TranscribeOptions(model=model) if model else TranscribeOptions()


def words_of(transcript: Transcript) -> Words:
    """What a catalog keeps of a transcript: itself, and the terms and text of the words that count."""
    found = lyrics.clean(transcript)
    return Words(transcript.model, transcript.to_json(), dict(found.terms()), found.text if not found.abstains else "")


def sequence_of(
    path: str | Path,
    cache: FeatureCache,
    *,
    content_hash: str | None = None,
    max_seconds: float = audio.MAX_SECONDS,
) -> np.ndarray:
    """The alignment sequence of one file alone (no embedding), through the cache."""
    content_hash = content_hash or audio.file_hash(path)
    return _cached_sequence(
        cache,
        content_hash,
        lambda: cache.features(path, CQTSpec(), content_hash=content_hash, max_seconds=max_seconds),
    )


def transcript_of(
    path: str | Path,
    cache: FeatureCache,
    options: TranscribeOptions = TranscribeOptions(),
    *,
    content_hash: str | None = None,
    max_seconds: float = audio.MAX_SECONDS,
    decoded: Callable[[], np.ndarray] | None = None,
) -> Transcript:
    """The transcript of one file's words (with word times), through the cache: transcription is the
    slowest step of all, done once per file content and model. ``decoded``, when given, returns the file
    already decoded at :data:`SAMPLE_RATE` (shared with the pitch features)."""
    content_hash = content_hash or audio.file_hash(path)

    def compute() -> np.ndarray:
        with ThreadPoolExecutor(1) as beside:  # the model loads while the audio decodes
            model = beside.submit(load_model, options.model)
            y = decoded() if decoded is not None else audio.load(path, sr=SAMPLE_RATE, max_seconds=max_seconds)
            model.result()
        return np.frombuffer(transcribe(y, options).to_json().encode(), dtype=np.uint8)

    stored = cache.get_or_compute("transcript", options.identity, content_hash, compute)
    return Transcript.from_json(bytes(stored).decode())


class TranscriptTask:
    """:func:`transcript_of` as a task for an executor, over paths."""

    def __init__(self, cache: FeatureCache, options: TranscribeOptions = TranscribeOptions()):
        self.cache, self.options = cache, options

    def __call__(self, path: str) -> Transcript:
        return transcript_of(path, self.cache, self.options)


class _Once:
    """``compute()`` called at most once, on first use, whichever thread asks first (the others wait for it);
    a failure is not kept, so each caller hears of it."""

    def __init__(self, compute: Callable[[], np.ndarray]):
        self._compute = compute
        self._lock = threading.Lock()
        self._value: np.ndarray | None = None

    def __call__(self) -> np.ndarray:
        with self._lock:
            if self._value is None:
                self._value = self._compute()
            return self._value


def _cached_sequence(cache: FeatureCache, content_hash: str, cqt) -> np.ndarray:
    return cache.get_or_compute("sequence", SEQUENCE_KIND, content_hash, lambda: alignment_sequence(cqt()))


class SequenceTask:
    """:func:`sequence_of` as a task for an executor, over paths."""

    def __init__(self, cache: FeatureCache):
        self.cache = cache

    def __call__(self, path: str) -> np.ndarray:
        return sequence_of(path, self.cache)


@dataclass(frozen=True)
class Recorded:
    """What the evidence about a pair reads of one recording (or of a clip of it): its alignment sequence,
    its embedder's input features and its embedding."""

    sequence: np.ndarray
    features: np.ndarray  # the embedder's input, (..., frames)
    frame_rate: float  # of ``features``
    vector: np.ndarray

    @property
    def seconds(self) -> float:
        return self.features.shape[-1] / self.frame_rate

    def clip(self, start: float, seconds: float, embedder: Embedder) -> Recorded:
        """``seconds`` of it from ``start``, embedded on its own."""
        s0, s1 = (round(t * ALIGN_CONFIG.frame_rate) for t in (start, start + seconds))
        f0, f1 = (round(t * self.frame_rate) for t in (start, start + seconds))
        features = self.features[..., f0:f1]
        return Recorded(self.sequence[s0:s1], features, self.frame_rate, embedder.embed(features))


def pair_evidence(a: Recorded | NewRecording, b: Recorded | NewRecording) -> tuple[Alignment, float]:
    """What the calibration reads of a pair (anything with a ``sequence`` and a ``vector``): the alignment
    of A with B (with its melody score) and the embeddings' cosine similarity."""
    alignment = Prepared(a.sequence, ALIGN_CONFIG).align(b.sequence, melody=True)
    return alignment, float(Embedder.similarity(a.vector, b.vector)[0, 0])


class _Record:
    def __init__(self, embedder: Embedder, cache: FeatureCache):
        self.embedder, self.cache = embedder, cache

    def __call__(self, path: str) -> Recorded:
        item = analyze_file(path, self.embedder, self.cache)
        features = self.cache.features(path, self.embedder.feature, content_hash=item.content_hash)
        return Recorded(np.asarray(item.sequence, np.float32), features, self.embedder.feature.frame_rate, item.vector)


def recorded(
    paths: list[str], labels: list, embedder: Embedder, workers: int | Executor = 1, cache: FeatureCache | None = None
) -> tuple[list[Recorded], list]:
    """:class:`Recorded` of each readable file of ``paths``, with its label (unreadable files are left out)."""
    task = _Record(embedder, cache if cache is not None else FeatureCache.default())
    kept = [
        (r, label) for (_, r), label in zip(as_executor(workers).map(task, paths), labels) if not isinstance(r, Failure)
    ]
    return [r for r, _ in kept], [label for _, label in kept]


class Analyze:
    """:func:`analyze_file` as a task for an executor, over ``(path, content hash or None)`` items."""

    def __init__(
        self,
        embedder: Embedder,
        cache: FeatureCache,
        *,
        sequence: bool = True,
        words: TranscribeOptions | None = None,
        max_seconds: float = audio.MAX_SECONDS,
    ):
        self.embedder, self.cache, self.sequence, self.max_seconds = embedder, cache, sequence, max_seconds
        self.words = words

    def __call__(self, item: tuple[str, str | None]) -> NewRecording:
        path, content_hash = item
        return analyze_file(
            path,
            self.embedder,
            self.cache,
            content_hash=content_hash,
            sequence=self.sequence,
            words=self.words,
            max_seconds=self.max_seconds,
        )


def warm_up(embedder: Embedder) -> None:
    """Run every compiled step once on a short tone, so that worker processes load numba's on-disk cache
    instead of compiling the same code at the same time."""
    embedder.embed_audio(_tone(embedder.feature.sr))
    seq = alignment_sequence(CQTSpec().compute(_tone(CQTSpec().sr)))
    align_sequences(seq, seq, ALIGN_CONFIG)


def _tone(sr: int, seconds: float = 3.0) -> np.ndarray:
    return (0.1 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * sr)) / sr)).astype(np.float32)
