"""From an alignment to what a person needs: a probability that two recordings are versions, and a verdict
(version / maybe / unrelated).

The probability is a logistic fit on labelled pairs of the versions corpus (``scripts/calibrate_alignment.py``:
rendered versions, never real covers) of the evidence about a pair: the alignment's score, how long the
compared material is (a short clip can match a stretch of anything by chance, so it needs more to be called
a version), and the cosine similarity of the two embeddings, a second witness that errs on other pairs than
the alignment does. The fit ships as ``assets/calibration.json`` and names the data that set it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from homage.errors import ParameterError

CALIBRATION_FILE = Path(__file__).with_name("assets") / "calibration.json"
VERSION_AT, MAYBE_AT = 0.7, 0.3  # probability thresholds of the verdicts

# What a calibration may read of a pair: its alignment and the cosine similarity of its embeddings
# (frames: of the delay-embedded sequences).
FEATURES: dict[str, Callable] = {
    "score": lambda al, sim: al.score,  # Qmax / √(frames of B), as re-ranking uses it
    "score_min": lambda al, sim: al.qmax / np.sqrt(max(min(al.frames_a, al.frames_b), 1)),  # the same, symmetric
    "log_min": lambda al, sim: np.log(max(min(al.frames_a, al.frames_b), 1)),  # how long the shorter one is
    "log_max": lambda al, sim: np.log(max(max(al.frames_a, al.frames_b), 1)),
    "similarity": lambda al, sim: sim,  # cosine of the two embeddings
}


@dataclass(frozen=True)
class Calibration:
    weights: tuple[float, ...]
    intercept: float
    fitted_on: str  # which labelled pairs set it
    n_pairs: int
    features: tuple[str, ...] = ("score",)

    @property
    def slope(self) -> float:
        """The weight of the first feature (the score, for a score-only fit)."""
        return self.weights[0]

    def probability(self, evidence, similarity: float | None = None) -> float:
        """That the pair is a version pair, from its Alignment and the cosine ``similarity`` of its
        embeddings (or, for a score-only fit, from its score)."""
        if "similarity" in self.features and similarity is None:
            raise ParameterError("this calibration reads the embeddings' similarity: pass it with the alignment")
        if isinstance(evidence, (int, float, np.floating)):
            values = [evidence]
        else:
            values = [FEATURES[f](evidence, similarity) for f in self.features]
        return _logistic(float(np.dot(self.weights, values)) + self.intercept)

    def verdict(self, evidence, similarity: float | None = None) -> str:
        return verdict_of(self.probability(evidence, similarity))

    def save(self, path: str | Path = CALIBRATION_FILE) -> Path:
        path = Path(path)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path


def among_candidates(probability: float, candidates: int) -> float:
    """The probability for a pair that a search picked among ``candidates`` recordings compared with one
    query, of which about one is a version. The calibration is fitted at even odds, the right prior for
    two recordings someone suspects; a search that judges 100 candidates would, at even odds, call the
    few percent of unrelated ones that align by chance versions on every query. So, as a sequence search
    scales its E-values by the database searched, the odds are multiplied by the prior odds
    1 : (candidates − 1)."""
    if candidates <= 2:
        return probability
    p = min(max(probability, 1e-15), 1 - 1e-15)
    return _logistic(np.log(p / (1 - p)) - np.log(candidates - 1))


def _logistic(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-z)))


def verdict_of(probability: float) -> str:
    """"version", "maybe" or "unrelated" for a calibrated probability."""
    return "version" if probability >= VERSION_AT else "maybe" if probability >= MAYBE_AT else "unrelated"


@functools.lru_cache(maxsize=8)
def load_calibration(path: str | Path = CALIBRATION_FILE) -> Calibration:
    """The calibration stored at ``path`` (read once per process; a Calibration is immutable)."""
    data = json.loads(Path(path).read_text())
    if "slope" in data:  # a score-only fit written before features were named
        data = {"weights": [data.pop("slope")], **data, "features": ["score"]}
    return Calibration(**{**data, "weights": tuple(data["weights"]), "features": tuple(data["features"])})


def fit_calibration(X: np.ndarray, is_version: np.ndarray, fitted_on: str, features: tuple[str, ...] = ("score",)) -> Calibration:
    """Logistic regression of ``is_version`` on the feature columns ``X`` (n, len(features)), or on scores
    (n,), by maximum likelihood with balanced classes."""
    from scipy.optimize import minimize

    X = np.asarray(X, dtype=float).reshape(len(is_version), -1)
    y = np.asarray(is_version, dtype=float)
    weights = np.where(y > 0, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    A = np.column_stack([X, np.ones(len(X))])

    def loss(theta):
        z = A @ theta
        return float(np.sum(weights * (np.logaddexp(0, z) - y * z)))

    def gradient(theta):
        z = A @ theta
        return A.T @ (weights * (1.0 / (1.0 + np.exp(-z)) - y))

    start = np.zeros(A.shape[1])
    theta = minimize(loss, start, jac=gradient, method="BFGS").x
    return Calibration(tuple(float(w) for w in theta[:-1]), float(theta[-1]), fitted_on, int(len(y)), tuple(features))
