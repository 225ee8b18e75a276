"""Writing audio: block-wise through libsndfile, or encoded at a bitrate by FFmpeg (PyAV)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from homage.errors import ParameterError


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
    import av

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
