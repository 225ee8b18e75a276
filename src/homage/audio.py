"""Audio in: decode any common format to mono float32 at a chosen sample rate, with clear errors.

soundfile (libsndfile) decodes wav/flac/ogg/opus/mp3 fastest; PyAV (FFmpeg) takes everything else
(m4a/aac, wma, video containers). soxr resamples. Every failure raises :class:`AudioError` naming the
file and the reason, so a batch can report it and go on.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from homage.errors import AudioError, Failure, ParameterError

AUDIO_EXTENSIONS = frozenset(
    ".wav .wave .flac .ogg .oga .opus .mp3 .m4a .aac .mp4 .aif .aiff .wma .webm .mka".split()
)

MIN_DURATION_S = 1.0
MAX_DURATION_S = 30 * 60.0
SILENCE_DBFS = -60.0
TRUNCATION_TOLERANCE = 0.9  # decoded/expected duration below this means the file is cut short


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, read without decoding it."""

    duration: float
    sample_rate: int
    channels: int
    codec: str


def is_audio_path(path: str | Path) -> bool:
    """Whether ``path`` has the extension of a format homage reads."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def absolute(path: str | Path) -> Path:
    """``path`` made absolute and normalised (``..`` removed) but not resolved: links stay as the user named them."""
    return Path(os.path.abspath(path))


def find_audio(root: str | Path, *, on_skip: Callable[[Failure], None] | None = None) -> list[Path]:
    """Audio files under ``root`` (recursive; hidden entries skipped), sorted; ``root`` may be one file."""
    return walk_files(root, is_audio_path, on_skip=on_skip)


def walk_files(
    root: str | Path, accept: Callable[[str], bool], *, on_skip: Callable[[Failure], None] | None = None
) -> list[Path]:
    """Files under ``root`` that ``accept(name)`` takes, sorted, each real file once, under the path it was found at.

    Symbolic links to files and folders are followed (a link loop is skipped); a file reached twice (a
    link beside its target) is listed once, at the first path in sorted order. Paths are absolute but not
    resolved, so they read as the user laid them out. What cannot be read — a folder without permission,
    a broken link, a name that is not valid UTF-8 — is reported to ``on_skip`` and left out.
    """
    root = absolute(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise AudioError(root, "no such folder")
    report = on_skip or (lambda failure: None)
    seen_dirs: set[tuple[int, int]] = set()
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=lambda e: report(_unreadable(e))):
        here = os.stat(dirpath)
        if (here.st_dev, here.st_ino) in seen_dirs:  # reached again through a link: a loop or a duplicate
            dirnames[:] = []
            continue
        seen_dirs.add((here.st_dev, here.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or not accept(name):
                continue
            path = Path(dirpath, name)
            try:
                str(path).encode("utf-8")
                st = path.stat()
            except UnicodeEncodeError:
                report(Failure(ascii(str(path)), "the file name is not valid UTF-8 (rename the file)"))
                continue
            except OSError as exc:
                report(Failure(str(path), "broken link" if path.is_symlink() else f"cannot read ({exc.strerror})"))
                continue
            found.append((path, (st.st_dev, st.st_ino)))
    unique = {}
    for path, key in sorted(found):
        unique.setdefault(key, path)
    return sorted(unique.values())


def _unreadable(exc: OSError) -> Failure:
    return Failure(str(exc.filename), f"folder skipped: cannot read it ({exc.strerror})")


def file_hash(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """BLAKE2b hash of the file's bytes (hex, 32 chars): identifies content whatever its path."""
    path = _check_file(path)
    digest = hashlib.blake2b(digest_size=16)
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(chunk_size):
                digest.update(chunk)
    except OSError as exc:
        raise AudioError(path, f"cannot read file ({exc.strerror or exc})") from exc
    return digest.hexdigest()


def probe(path: str | Path) -> AudioInfo:
    """Read duration, rate, channels and codec from the header (no decoding)."""
    path = _check_file(path)
    try:
        info = sf.info(str(path))
        return AudioInfo(info.duration, info.samplerate, info.channels, info.format.lower())
    except (sf.LibsndfileError, RuntimeError, TypeError):
        pass
    av = _import_av()
    try:
        with av.open(str(path)) as container:
            stream = _audio_stream(container, path)
            return AudioInfo(_av_duration(container, stream), stream.rate, stream.channels, stream.codec_context.name)
    except av.FFmpegError as exc:
        raise AudioError(path, f"not a readable audio file ({_reason(exc)})") from exc


def load(
    path: str | Path,
    *,
    sr: int = 16000,
    offset: float = 0.0,
    duration: float | None = None,
    min_duration: float = MIN_DURATION_S,
    max_duration: float = MAX_DURATION_S,
) -> np.ndarray:
    """Decode ``path`` to a mono float32 signal at ``sr`` Hz.

    Parameters
    ----------
    offset, duration : seconds of the file to keep (from ``offset``; to the end when ``duration`` is None).
    min_duration, max_duration : the file (after offset/duration) must last this long; longer files
        are refused from their header, before decoding.

    Returns
    -------
    y : np.ndarray, shape (n_samples,), float32 in [-1, 1]

    Raises
    ------
    AudioError
        missing, empty, unreadable, truncated, silent, too short or too long.
    """
    path = _check_file(path)
    if offset < 0 or (duration is not None and duration <= 0):
        raise AudioError(path, f"invalid offset/duration ({offset}, {duration})")
    try:
        y, native_sr, expected = _decode_soundfile(path, offset, duration, max_duration)
    except _NotForSoundfile:
        y, native_sr, expected = _decode_av(path, offset, duration, max_duration)
    decoded = len(y) / native_sr
    if expected is not None and decoded < TRUNCATION_TOLERANCE * expected:
        raise AudioError(path, f"truncated: header says {expected:.1f} s but only {decoded:.1f} s could be decoded")
    if decoded < min_duration:
        raise AudioError(path, f"too short ({decoded:.2f} s; at least {min_duration:g} s needed)")
    if native_sr != sr:
        y = soxr.resample(y, native_sr, sr, quality="HQ")
    y = np.clip(np.nan_to_num(y.astype(np.float32, copy=False)), -1.0, 1.0)
    rms_db = 10 * np.log10(float(np.mean(np.square(y, dtype=np.float64))) + 1e-20)
    if rms_db < SILENCE_DBFS:
        raise AudioError(path, f"silent (level {rms_db:.0f} dBFS)")
    return y


def save(path: str | Path, y: np.ndarray, sr: int, *, bitrate: int | None = None, block: int = 8192) -> Path:
    """Write audio (n,) or (n, channels) to ``path``; the format follows the extension (wav, flac, ogg, mp3).

    With ``bitrate`` (bits/s) a lossy format is encoded by FFmpeg (PyAV) at that rate. Otherwise libsndfile
    writes block by block: its Vorbis encoder fails on one large write.
    """
    path = Path(path)
    y = np.asarray(y, dtype=np.float32)
    if bitrate is not None:
        return _encode_av(path, y, sr, bitrate)
    channels = 1 if y.ndim == 1 else y.shape[1]
    with sf.SoundFile(str(path), "w", samplerate=sr, channels=channels) as out:
        for start in range(0, len(y), block):
            out.write(y[start : start + block])
    return path


_AV_CODECS = {".mp3": "libmp3lame", ".m4a": "aac", ".opus": "libopus"}


def _encode_av(path: Path, y: np.ndarray, sr: int, bitrate: int) -> Path:
    av = _import_av()
    codec = _AV_CODECS.get(path.suffix.lower())
    if codec is None:
        raise ParameterError(f"{path.name}: no lossy codec for '{path.suffix}' (use {', '.join(_AV_CODECS)})")
    y = y[:, None] if y.ndim == 1 else y
    layout = "mono" if y.shape[1] == 1 else "stereo"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=sr, layout=layout)
        stream.bit_rate = bitrate
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(y.T), format="fltp", layout=layout)
        frame.sample_rate = sr
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def read_tags(path: str | Path) -> dict[str, str]:
    """Title, artist and album tags when the file has them (empty dict otherwise; never raises)."""
    try:
        import mutagen

        tags = mutagen.File(str(path), easy=True)
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


class _NotForSoundfile(Exception):
    """libsndfile does not know this container; PyAV should try."""


def _check_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise AudioError(path, "no such file")
    if not path.is_file():
        raise AudioError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    return path


def _check_length(path: Path, total: float, offset: float, duration: float | None, max_duration: float) -> float:
    """Seconds that will be decoded; refuses over-long files before any decoding."""
    span = max(0.0, total - offset) if duration is None else min(duration, max(0.0, total - offset))
    if span > max_duration:
        raise AudioError(
            path, f"too long ({_fmt_duration(span)}; limit {_fmt_duration(max_duration)}, set a larger max duration)"
        )
    return span


def _decode_soundfile(path: Path, offset: float, duration: float | None, max_duration: float):
    try:
        with _quiet_native_stderr():
            handle = sf.SoundFile(str(path))
    except sf.LibsndfileError as exc:
        if path.suffix.lower() in {".wav", ".wave", ".flac", ".aif", ".aiff"}:
            raise AudioError(path, f"not a readable audio file ({_reason(exc)})") from exc
        raise _NotForSoundfile from exc
    except (RuntimeError, TypeError) as exc:
        raise _NotForSoundfile from exc
    with handle:
        _check_riff_size(path)
        sr = handle.samplerate
        total = handle.frames / sr if handle.frames > 0 else None
        expected = _check_length(path, total, offset, duration, max_duration) if total else None
        start = int(round(offset * sr))
        count = -1 if duration is None else int(round(duration * sr))
        try:
            with _quiet_native_stderr():
                if start:
                    handle.seek(min(start, max(handle.frames, 0)))
                data = handle.read(count, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(path, f"decoding failed ({_reason(exc)})") from exc
    return _mono(data), sr, expected


def _check_riff_size(path: Path) -> None:
    """WAV/AIFF headers declare the file's size; libsndfile silently reads a cut file, so compare."""
    with open(path, "rb") as fh:
        head = fh.read(12)
    if len(head) < 12:
        return
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        declared = int.from_bytes(head[4:8], "little") + 8
    elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        declared = int.from_bytes(head[4:8], "big") + 8
    else:
        return
    actual = path.stat().st_size
    if declared > actual and declared != 0xFFFFFFFF + 8:  # 0xFFFFFFFF: streamed WAV of unknown size
        raise AudioError(path, f"truncated: header declares {declared} bytes but the file has {actual}")


@contextmanager
def _quiet_native_stderr():
    """Silence what native decoders (libmpg123) print on fd 2; our own errors carry the reason."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _decode_av(path: Path, offset: float, duration: float | None, max_duration: float):
    av = _import_av()
    try:
        with av.open(str(path)) as container:
            stream = _audio_stream(container, path)
            total = _av_duration(container, stream)
            expected = _check_length(path, total, offset, duration, max_duration) if total else None
            sr = stream.rate
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=sr)
            limit = None if duration is None else int(round((offset + duration) * sr))
            chunks, n = [], 0
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray()[0]
                    chunks.append(chunk)
                    n += len(chunk)
                if limit is not None and n >= limit:
                    break
    except av.FFmpegError as exc:
        raise AudioError(path, f"not a readable audio file ({_reason(exc)})") from exc
    y = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    start = int(round(offset * sr))
    y = y[start:limit] if limit is not None else y[start:]
    return y.astype(np.float32, copy=False), sr, expected


def _mono(data: np.ndarray) -> np.ndarray:
    """(n, channels) → (n,) by averaging channels; a plain sum keeps this cheap for stereo."""
    if data.shape[1] == 1:
        return data[:, 0]
    if data.shape[1] == 2:
        return (data[:, 0] + data[:, 1]) * 0.5
    return data.mean(axis=1)


def _import_av():
    import av

    return av


def _audio_stream(container, path: Path):
    if not container.streams.audio:
        raise AudioError(path, "no audio stream")
    return container.streams.audio[0]


def _av_duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def _reason(exc: Exception) -> str:
    """A short, single-line reason from a decoder exception (without errno or repeated path)."""
    text = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()[:160]


def _fmt_duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"
