"""From an alignment score to what a person needs: a probability that two recordings are versions, and
a verdict (version / maybe / unrelated).

The probability is a logistic fit of the alignment score on labelled pairs of the versions corpus
(``scripts/calibrate_alignment.py``, validation split: rendered versions, never real covers); the fit
ships as ``assets/calibration.json`` and names the data that set it.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

CALIBRATION_FILE = Path(__file__).with_name("assets") / "calibration.json"
VERSION_AT, MAYBE_AT = 0.7, 0.3  # probability thresholds of the verdicts


@dataclass(frozen=True)
class Calibration:
    slope: float
    intercept: float
    fitted_on: str  # which labelled pairs set it
    n_pairs: int

    def probability(self, score: float) -> float:
        return float(1.0 / (1.0 + np.exp(-(self.slope * score + self.intercept))))

    def verdict(self, score: float) -> str:
        p = self.probability(score)
        return "version" if p >= VERSION_AT else "maybe" if p >= MAYBE_AT else "unrelated"

    def save(self, path: str | Path = CALIBRATION_FILE) -> Path:
        path = Path(path)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path


@functools.lru_cache(maxsize=8)
def load_calibration(path: str | Path = CALIBRATION_FILE) -> Calibration:
    """The calibration stored at ``path`` (read once per process; a Calibration is immutable)."""
    return Calibration(**json.loads(Path(path).read_text()))


def fit_calibration(scores: np.ndarray, is_version: np.ndarray, fitted_on: str) -> Calibration:
    """Logistic regression of ``is_version`` on the alignment score (maximum likelihood, balanced classes)."""
    from scipy.optimize import minimize

    scores, y = np.asarray(scores, dtype=float), np.asarray(is_version, dtype=float)
    weights = np.where(y > 0, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))

    def loss(theta):
        z = theta[0] * scores + theta[1]
        return float(np.sum(weights * (np.logaddexp(0, z) - y * z)))

    theta = minimize(loss, x0=np.array([1.0, -float(np.median(scores))]), method="Nelder-Mead").x
    return Calibration(float(theta[0]), float(theta[1]), fitted_on, int(len(scores)))
