"""The recording chain: what a studio, a room and a distribution format do to a version.

``draw_chain`` picks effect settings from a random generator (so a build is reproducible from its
seed) as plain dicts that go into the corpus manifest; ``apply_chain`` runs them with pedalboard;
``ENCODINGS`` are the output formats, down to what real benchmark copies are (16 kHz mono 32 kbps MP3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Encoding:
    name: str
    sr: int
    channels: int
    bitrate: int
    suffix: str = ".mp3"


ENCODINGS = (
    Encoding("mp3-16k-mono-32k", 16000, 1, 32_000),
    Encoding("mp3-22k-mono-64k", 22050, 1, 64_000),
    Encoding("mp3-22k-stereo-96k", 22050, 2, 96_000),
    Encoding("aac-22k-stereo-80k", 22050, 2, 80_000, ".m4a"),
)
ENCODING_WEIGHTS = (0.35, 0.3, 0.2, 0.15)


def draw_chain(rng: np.random.Generator) -> dict:
    """Random recording-chain settings; each effect is present with its own probability."""
    chain: dict = {}
    if rng.random() < 0.6:
        chain["reverb"] = {
            "room_size": round(float(rng.uniform(0.1, 0.9)), 2),
            "wet_level": round(float(rng.uniform(0.05, 0.35)), 2),
        }
    if rng.random() < 0.4:
        chain["highpass_hz"] = int(rng.uniform(60, 400))
    if rng.random() < 0.4:
        chain["lowpass_hz"] = int(rng.uniform(2500, 9000))
    if rng.random() < 0.5:
        chain["eq"] = {
            "hz": int(rng.uniform(200, 5000)),
            "gain_db": round(float(rng.uniform(-9, 9)), 1),
            "q": round(float(rng.uniform(0.5, 2.0)), 2),
        }
    if rng.random() < 0.5:
        chain["compressor"] = {
            "threshold_db": round(float(rng.uniform(-30, -10)), 1),
            "ratio": round(float(rng.uniform(2, 8)), 1),
        }
    if rng.random() < 0.1:
        chain["distortion_db"] = round(float(rng.uniform(5, 20)), 1)
    if rng.random() < 0.2:
        chain["chorus"] = round(float(rng.uniform(0.2, 0.6)), 2)
    if rng.random() < 0.35:
        chain["noise_snr_db"] = round(float(rng.uniform(15, 45)), 1)
    chain["gain_db"] = round(float(rng.uniform(-12, -1)), 1)
    chain["encoding"] = ENCODINGS[int(rng.choice(len(ENCODINGS), p=ENCODING_WEIGHTS))].name
    return chain


def encoding(name: str) -> Encoding:
    return next(e for e in ENCODINGS if e.name == name)


def apply_chain(y: np.ndarray, sr: int, chain: dict, rng: np.random.Generator) -> np.ndarray:
    """Run ``chain`` (from ``draw_chain``) on audio ``y`` (n, channels); returns float32 of the same shape,
    peak-normalised to the chain's gain."""
    import pedalboard as pb

    effects = []
    if "highpass_hz" in chain:
        effects.append(pb.HighpassFilter(cutoff_frequency_hz=chain["highpass_hz"]))
    if "lowpass_hz" in chain:
        effects.append(pb.LowpassFilter(cutoff_frequency_hz=chain["lowpass_hz"]))
    if "eq" in chain:
        eq = chain["eq"]
        effects.append(pb.PeakFilter(cutoff_frequency_hz=eq["hz"], gain_db=eq["gain_db"], q=eq["q"]))
    if "chorus" in chain:
        effects.append(pb.Chorus(mix=chain["chorus"]))
    if "distortion_db" in chain:
        effects.append(pb.Distortion(drive_db=chain["distortion_db"]))
    if "compressor" in chain:
        effects.append(pb.Compressor(**chain["compressor"]))
    if "reverb" in chain:
        effects.append(pb.Reverb(**chain["reverb"]))
    y = np.asarray(y, dtype=np.float32)
    if effects:
        y = pb.Pedalboard(effects)(np.ascontiguousarray(y.T), sr).T
    if "noise_snr_db" in chain:
        level = np.sqrt(np.mean(y**2)) / 10 ** (chain["noise_snr_db"] / 20)
        y = y + level * _pink_noise(rng, y.shape)
    peak = float(np.abs(y).max()) or 1.0
    return (y * (10 ** (chain["gain_db"] / 20) / peak)).astype(np.float32)


def _pink_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Unit-RMS noise with a 1/f spectrum (FFT-shaped white noise)."""
    spectrum = np.fft.rfft(rng.standard_normal(shape), axis=0)
    weights = 1.0 / np.sqrt(np.maximum(np.arange(spectrum.shape[0]), 1))
    spectrum *= weights.reshape(-1, *([1] * (len(shape) - 1)))
    noise = np.fft.irfft(spectrum, n=shape[0], axis=0)
    return (noise / (np.sqrt(np.mean(noise**2)) + 1e-12)).astype(np.float32)
