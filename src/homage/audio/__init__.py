"""Audio in: decode any common format to mono float32 at a chosen sample rate, with clear errors; find
audio files under a folder; write audio.

Every failure raises :class:`homage.errors.AudioError` naming the file and the reason in words, so a batch
can report it and go on; a problem worked around (a truncated file) is an :class:`AudioWarning`.
"""

from homage.audio.decode import (
    MAX_SECONDS,
    MIN_SECONDS,
    SILENCE_DBFS,
    TRUNCATION_TOLERANCE,
    AudioInfo,
    AudioWarning,
    load,
    probe,
    read_tags,
)
from homage.audio.encode import save
from homage.audio.files import AUDIO_EXTENSIONS, absolute, check_file, file_hash, find_audio, is_audio_path, walk_files
from homage.errors import AudioError

__all__ = [
    "AUDIO_EXTENSIONS",
    "MAX_SECONDS",
    "MIN_SECONDS",
    "SILENCE_DBFS",
    "TRUNCATION_TOLERANCE",
    "AudioError",
    "AudioInfo",
    "AudioWarning",
    "absolute",
    "check_file",
    "file_hash",
    "find_audio",
    "is_audio_path",
    "load",
    "probe",
    "read_tags",
    "save",
    "walk_files",
]
