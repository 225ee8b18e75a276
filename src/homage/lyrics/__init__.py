"""The sung words as evidence: transcription (:mod:`homage.lyrics.transcribe`) and what two transcripts
share (:mod:`homage.lyrics.text`)."""

from homage.lyrics.text import (
    Lyrics,
    SharedLine,
    clean,
    document_frequencies,
    shared_lines,
    similarities,
    similarity,
    similarity_matrix,
    tfidf,
)
from homage.lyrics.transcribe import (
    DEFAULT_MODEL,
    SAMPLE_RATE,
    TranscribeOptions,
    Transcript,
    available,
    load_model,
    transcribe,
)

__all__ = [
    "DEFAULT_MODEL",
    "SAMPLE_RATE",
    "available",
    "Lyrics",
    "SharedLine",
    "TranscribeOptions",
    "Transcript",
    "clean",
    "document_frequencies",
    "load_model",
    "shared_lines",
    "similarities",
    "similarity",
    "similarity_matrix",
    "tfidf",
    "transcribe",
]
