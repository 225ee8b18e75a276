"""Decoding: any common format to mono float32 at a chosen rate, block by block, with reasons in words.

libsndfile (soundfile) decodes wav/flac/ogg/opus/mp3 fastest; FFmpeg (PyAV) takes everything else (m4a/aac,
wma, video containers) and every file libsndfile stops on early: it resynchronises past a damaged frame,
so a damaged frame costs that frame, not the file. Blocks are mixed down and resampled (soxr, streaming) as
they are read, so memory follows the output, not the input: a 30-minute 6-channel 96 kHz file never exists
in memory as such. Files are opened as file objects, so any name the file system holds can be read.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from homage.audio.files import check_file
from homage.errors import AudioError

MIN_SECONDS = 1.0
MAX_SECONDS = 30 * 60.0
SILENCE_DBFS = -60.0
TRUNCATION_TOLERANCE = 0.9  # decoded/expected duration below this means the file is cut short
BLOCK_SAMPLES = 1 << 21  # samples (frames × channels) read at a time: ≈ 8 MB of float32
LOSSLESS = frozenset({".wav", ".wave", ".flac", ".aif", ".aiff"})  # a short decode is a short file: no second try


class AudioWarning(UserWarning):
    """A problem with a file that homage worked around (a truncated file: the decoded part is used)."""


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, read without decoding it."""

    duration: float
    sample_rate: int
    channels: int
    codec: str


def probe(path: str | Path) -> AudioInfo:
    """Read duration, rate, channels and codec from the header (no decoding)."""
    path = check_file(path)
    try:
        with open(path, "rb") as fh, _quiet_native_stderr():
            info = sf.info(fh)
        return AudioInfo(info.duration, info.samplerate, info.channels, info.format.lower())
    except (sf.LibsndfileError, RuntimeError, TypeError):
        pass
    av = _import_av()
    try:
        with open(path, "rb") as fh, av.open(fh) as container:
            stream = _audio_stream(container, path)
            return AudioInfo(
                _av_duration(container, stream) or 0.0, stream.rate, stream.channels, stream.codec_context.name
            )
    except av.FFmpegError as exc:
        raise AudioError(path, unreadable(path)) from exc


def load(
    path: str | Path,
    *,
    sr: int = 16000,
    offset: float = 0.0,
    duration: float | None = None,
    min_seconds: float = MIN_SECONDS,
    max_seconds: float = MAX_SECONDS,
    on_warning: Callable[[str], None] | None = None,
) -> np.ndarray:
    """Decode ``path`` to a mono float32 signal at ``sr`` Hz.

    Parameters
    ----------
    offset, duration : seconds of the file to keep (from ``offset``; to the end when ``duration`` is None).
    min_seconds, max_seconds : the file (after offset/duration) must last this long; longer files
        are refused from their header, before decoding.
    on_warning : called with a problem worked around, as one line naming the file (default: an
        :class:`AudioWarning` is issued).

    Returns
    -------
    y : np.ndarray, shape (n_samples,), float32 in [-1, 1]

    Raises
    ------
    AudioError
        missing, empty, unreadable, silent, too short or too long. A file shorter than its header says
        (truncated) is decoded as far as it goes, with an :class:`AudioWarning`.
    """
    path = check_file(path)
    if offset < 0 or (duration is not None and duration <= 0):
        raise AudioError(path, f"invalid offset/duration ({offset}, {duration})")
    decoded = _decode(path, sr, offset, duration, max_seconds)
    if decoded.expected and decoded.seconds < TRUNCATION_TOLERANCE * decoded.expected:
        cut = (
            f"truncated: the header says {_clock(decoded.expected)} but only {_clock(decoded.seconds)} could be decoded"
        )
        if decoded.seconds < min_seconds:
            raise AudioError(path, cut)
        message = f"{path}: {cut}; the decoded part is used"
        on_warning(message) if on_warning else warnings.warn(AudioWarning(message), stacklevel=2)
    if decoded.seconds < min_seconds:
        raise AudioError(path, f"too short ({decoded.seconds:.2f} s; at least {min_seconds:g} s needed)")
    y = np.clip(np.nan_to_num(decoded.y, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
    rms_db = 10 * np.log10(float(np.mean(np.square(y, dtype=np.float64))) + 1e-20)
    if rms_db < SILENCE_DBFS:
        raise AudioError(path, f"silent (level {rms_db:.0f} dBFS)")
    return y


def read_tags(path: str | Path) -> dict[str, str]:
    """Title, artist and album tags when the file has them (empty dict otherwise; never raises)."""
    try:
        import mutagen

        with open(path, "rb") as fh:
            tags = mutagen.File(fh, easy=True)
    except Exception:  # noqa: BLE001 - tags are optional decoration: a bad tag block must not fail a file
        return {}
    if not tags:
        return {}
    found = {}
    for key in ("title", "artist", "album"):
        values = tags.get(key)
        if values:
            found[key] = str(values[0]).strip()
    return {k: v for k, v in found.items() if v}


def unreadable(path: Path) -> str:
    """Why a file could not be decoded, in words: what its first bytes look like, not a decoder's error code."""
    try:
        head = _head(path, 4096)
    except OSError as error:
        return f"cannot read ({error.strerror})"
    kind = _container(head)
    if kind is not None:
        return f"not a readable audio file: a damaged {kind}, no audio could be decoded from it"
    text = sum(32 <= b < 127 or b in (9, 10, 13) for b in head) / max(len(head), 1)
    return (
        "not a readable audio file: it holds text"
        if text > 0.95
        else "not a readable audio file: its content is no audio format homage knows"
    )


# ---- decoding ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Decoded:
    y: np.ndarray  # mono float32 at the requested rate
    seconds: float  # decoded (after offset/duration)
    expected: float | None  # what the header promised for the same span


class _NotForSoundfile(Exception):
    """libsndfile does not know this container, or stopped early: FFmpeg should try."""


def _decode(path: Path, sr: int, offset: float, duration: float | None, max_seconds: float) -> _Decoded:
    first = None
    try:
        first = _decode_soundfile(path, sr, offset, duration, max_seconds)
        if (
            path.suffix.lower() in LOSSLESS
            or not first.expected
            or first.seconds >= TRUNCATION_TOLERANCE * first.expected
        ):
            return first
    except _NotForSoundfile:
        pass
    try:
        second = _decode_av(path, sr, offset, duration, max_seconds)
    except AudioError:
        if first is not None:
            return first
        raise
    return second if first is None or second.seconds > first.seconds else first


def _decode_soundfile(path: Path, sr: int, offset: float, duration: float | None, max_seconds: float) -> _Decoded:
    with open(path, "rb") as fh:
        try:
            with _quiet_native_stderr():
                handle = sf.SoundFile(fh)
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            raise _NotForSoundfile from exc
        with handle:
            native = handle.samplerate
            if native <= 0:
                raise AudioError(path, unreadable(path))
            total = handle.frames / native if handle.frames > 0 else None
            expected = _check_length(path, total, offset, duration, max_seconds) if total else None
            declared = _declared_riff_seconds(path, handle)
            if declared is not None:
                expected = declared
            start = int(round(offset * native))
            count = -1 if duration is None else int(round(duration * native))
            if start:
                handle.seek(min(start, max(handle.frames, 0)))
            block = max(1024, BLOCK_SAMPLES // max(handle.channels, 1))
            blocks = _soundfile_blocks(handle, block, count)
            try:
                y, n = _mix_and_resample(blocks, native, sr)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise _NotForSoundfile from exc
    return _Decoded(y, n / native, expected)


def _soundfile_blocks(handle, block: int, count: int) -> Iterator[np.ndarray]:
    left = count
    while left != 0:
        with _quiet_native_stderr():
            data = handle.read(block if left < 0 else min(block, left), dtype="float32", always_2d=True)
        if not len(data):
            return
        left = left - len(data) if left > 0 else left
        yield _mono(data)


def _declared_riff_seconds(path: Path, handle) -> float | None:
    """What a WAV/AIFF header declares (its data size), when the file is shorter: libsndfile reads a cut
    file silently up to where it ends."""
    head = _head(path, 12)
    if len(head) < 12:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        declared = int.from_bytes(head[4:8], "little") + 8
    elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        declared = int.from_bytes(head[4:8], "big") + 8
    else:
        return None
    actual = path.stat().st_size
    if declared <= actual or declared == 0xFFFFFFFF + 8:  # 0xFFFFFFFF: streamed WAV of unknown size
        return None
    bytes_per_second = max(actual, 1) / max(handle.frames / handle.samplerate, 1e-9)
    return declared / bytes_per_second


def _decode_av(path: Path, sr: int, offset: float, duration: float | None, max_seconds: float) -> _Decoded:
    av = _import_av()
    try:
        with open(path, "rb") as fh, av.open(fh) as container:
            stream = _audio_stream(container, path)
            native = stream.rate
            if not native:
                raise AudioError(path, unreadable(path))
            total = _av_duration(container, stream)
            expected = _check_length(path, total, offset, duration, max_seconds) if total else None
            blocks = _av_blocks(
                av,
                container,
                stream,
                native,
                int(round(offset * native)),
                None if duration is None else int(round(duration * native)),
            )
            y, n = _mix_and_resample(blocks, native, sr)
    except av.FFmpegError as exc:
        raise AudioError(path, unreadable(path)) from exc
    if n == 0:
        raise AudioError(path, unreadable(path))
    return _Decoded(y, n / native, expected)


def _av_blocks(av, container, stream, native: int, skip: int, count: int | None) -> Iterator[np.ndarray]:
    """Mono blocks at the native rate from ``skip`` samples on; a packet that does not decode is dropped."""
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=native)
    seen = kept = 0
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.FFmpegError:
            continue  # a damaged frame costs that frame
        for frame in frames:
            for out in resampler.resample(frame):
                chunk = out.to_ndarray()[0]
                lo = max(0, skip - seen)
                seen += len(chunk)
                chunk = chunk[lo:]
                if count is not None:
                    chunk = chunk[: count - kept]
                if len(chunk):
                    kept += len(chunk)
                    yield chunk
                if count is not None and kept >= count:
                    return


def _mix_and_resample(blocks: Iterator[np.ndarray], native: int, sr: int) -> tuple[np.ndarray, int]:
    """Concatenate mono blocks resampled to ``sr`` as they come; also how many native samples there were."""
    stream = soxr.ResampleStream(native, sr, 1, dtype="float32", quality="HQ") if native != sr else None
    out, n = [], 0
    for block in blocks:
        block = np.ascontiguousarray(block, dtype=np.float32)
        n += len(block)
        out.append(stream.resample_chunk(block) if stream else block)
    if stream:
        out.append(stream.resample_chunk(np.zeros(0, np.float32), last=True))
    return (np.concatenate(out) if out else np.zeros(0, np.float32)), n


def _check_length(path: Path, total: float, offset: float, duration: float | None, max_seconds: float) -> float:
    """Seconds that will be decoded; refuses over-long files before any decoding."""
    span = max(0.0, total - offset) if duration is None else min(duration, max(0.0, total - offset))
    if span > max_seconds:
        raise AudioError(path, f"too long ({_clock(span)}; limit {_clock(max_seconds)}, set a larger max duration)")
    return span


def _mono(data: np.ndarray) -> np.ndarray:
    """(n, channels) → (n,) by averaging channels; a plain sum keeps this cheap for stereo."""
    if data.shape[1] == 1:
        return data[:, 0]
    if data.shape[1] == 2:
        return (data[:, 0] + data[:, 1]) * 0.5
    return data.mean(axis=1)


def _head(path: Path, n: int) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _container(head: bytes) -> str | None:
    """The audio container the first bytes announce, in words, or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "WAV file"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "AIFF file"
    if head[:4] == b"fLaC":
        return "FLAC file"
    if head[:4] == b"OggS":
        return "Ogg file"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "MP3 file"
    if head[4:8] == b"ftyp":
        return "MP4/M4A file"
    if head[:4] == b"\x1aE\xdf\xa3":
        return "Matroska/WebM file"
    if head[:4] == b"\x30\x26\xb2\x75":
        return "WMA/ASF file"
    return None


@contextmanager
def _quiet_native_stderr():
    """Silence what native decoders (libmpg123) print on fd 2 while a file is opened; our own errors carry
    the reason. fd 2 is process-wide: the first thread in points it at /dev/null and the last one out puts
    it back (counted under a lock), so threads that overlap never leave it silenced."""
    global _quiet_count, _saved_stderr
    with _quiet_lock:
        if _quiet_count == 0:
            try:
                _saved_stderr = os.dup(2)
                with open(os.devnull, "wb") as devnull:
                    os.dup2(devnull.fileno(), 2)
            except OSError:
                _saved_stderr = None
        _quiet_count += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_count -= 1
            if _quiet_count == 0 and _saved_stderr is not None:
                os.dup2(_saved_stderr, 2)
                os.close(_saved_stderr)
                _saved_stderr = None


_quiet_lock = threading.Lock()
_quiet_count = 0
_saved_stderr: int | None = None


def _import_av():
    import av

    return av


def _audio_stream(container, path: Path):
    if not container.streams.audio:
        what = "a video without sound" if container.streams.video else "a container without audio"
        raise AudioError(path, f"no audio stream ({what})")
    return container.streams.audio[0]


def _av_duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def _clock(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"
