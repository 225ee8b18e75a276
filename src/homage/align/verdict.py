"""From an alignment to what a person needs: a probability that two recordings are versions, and a verdict
(version / maybe / unrelated).

The probability is a logistic fit on labelled pairs of the evidence about a pair: the alignment's score and
its top-line (melody) twin, each in units of its :class:`Null` — how the score is spread over non-version pairs
of those lengths, so that what is read is how far a pair stands out from chance —, the cosine similarity of the
two embeddings, a second witness that errs on other pairs than the alignment does, and the similarity of their
sung words. Pairs with words are judged by a fit on real covers (``scripts/fit_real_covers.py``), pairs without
(an instrumental recording) by one on rendered versions that also reads how long the compared material is
(``scripts/calibrate_alignment.py``). A query's candidates are then judged together (:func:`judge_candidates`):
how far a candidate stands out among the others (:class:`Standout`), and how many were judged. The fit ships
as ``assets/calibration.json`` and names the data that set it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from homage.errors import ParameterError

CALIBRATION_FILE = Path(__file__).with_name("assets") / "calibration.json"
VERSION_AT, MAYBE_AT = 0.7, 0.3  # probability thresholds of the verdicts
THRESHOLDS = {"maybe": MAYBE_AT, "version": VERSION_AT}


def threshold(name: str) -> float:
    """The probability at which a verdict named ``name`` ("maybe" or "version") begins."""
    if name not in THRESHOLDS:
        raise ParameterError(f"threshold must be one of {', '.join(THRESHOLDS)}, not {name!r}")
    return THRESHOLDS[name]


# What a calibration may read of a pair: its alignment, the cosine similarity of its embeddings and the
# similarity of its words (frames: of the delay-embedded sequences). None: the pair does not have it.
FEATURES: dict[str, Callable] = {
    "score": lambda al, sim, words: al.score,  # Qmax / √(frames of B), as re-ranking uses it
    "score_min": lambda al, sim, words: al.qmax / np.sqrt(_shorter(al)),  # the same, symmetric
    "melody_min": lambda al, sim, words: (
        None if al.melody_score is None else al.melody_score * np.sqrt(max(al.frames_b, 1) / _shorter(al))
    ),
    "log_min": lambda al, sim, words: np.log(_shorter(al)),  # how long the shorter one is
    "log_max": lambda al, sim, words: np.log(max(al.frames_a, al.frames_b, 1)),
    "similarity": lambda al, sim, words: sim,  # cosine of the two embeddings
    "words": lambda al, sim, words: words,  # cosine of the words' TF-IDF vectors
}
IN_NULL_UNITS = "_z"  # a feature named "score_min_z" reads "score_min" in units of its Null


def _shorter(al) -> int:
    return max(min(al.frames_a, al.frames_b), 1)


@dataclass(frozen=True)
class Null:
    """How a score is spread over pairs that are not versions, at the lengths compared: its mean, and the
    logarithm of its typical deviation, each linear in the log lengths of the shorter and the longer
    recording (least squares on non-version pairs)."""

    mean: tuple[float, float, float]  # coefficients of log_min, log_max and 1
    log_spread: tuple[float, float, float]

    @classmethod
    def fit(cls, values: np.ndarray, log_min: np.ndarray, log_max: np.ndarray) -> Null:
        design = np.column_stack([log_min, log_max, np.ones(len(log_min))])
        mean = np.linalg.lstsq(design, values, rcond=None)[0]
        deviation = np.log(np.abs(values - design @ mean) + 1e-6)
        log_spread = np.linalg.lstsq(design, deviation, rcond=None)[0]
        return cls(tuple(float(c) for c in mean), tuple(float(c) for c in log_spread))

    def excess(self, value, log_min, log_max):
        """How far ``value`` lies above the null's mean at these lengths."""
        return value - (self.mean[0] * log_min + self.mean[1] * log_max + self.mean[2])

    def z(self, value, log_min, log_max):
        """The excess in units of the null's spread at these lengths."""
        spread = np.exp(self.log_spread[0] * log_min + self.log_spread[1] * log_max + self.log_spread[2])
        return self.excess(value, log_min, log_max) / spread


def evidence_of(alignment, similarity: float | None, words: float | None = None) -> dict[str, float | None]:
    """Every feature a calibration may read of one pair, by name (:data:`FEATURES`); ``words``: the
    similarity of their words, None when either has no lyric evidence."""
    return {name: feature(alignment, similarity, words) for name, feature in FEATURES.items()}


def feature_values(evidence: dict, features: tuple[str, ...], nulls: dict[str, Null]) -> list[float]:
    """The values of ``features`` for one pair's ``evidence``; a score the pair lacks (no top line, no lyric
    evidence) reads 0 — in null units the null's mean: no evidence either way."""
    values = []
    for name in features:
        base = name.removesuffix(IN_NULL_UNITS)
        value = evidence[base]
        if value is None:
            values.append(0.0)
        elif name.endswith(IN_NULL_UNITS):
            values.append(float(nulls[base].z(value, evidence["log_min"], evidence["log_max"])))
        else:
            values.append(float(value))
    return values


def fit_nulls(non_versions: list[dict], features: tuple[str, ...]) -> dict[str, Null]:
    """The :class:`Null` of each score that ``features`` read in null units, fitted on the evidence of
    non-version pairs (those that have the score)."""
    nulls = {}
    for name in features:
        if name.endswith(IN_NULL_UNITS):
            base = name[: -len(IN_NULL_UNITS)]
            rows = [e for e in non_versions if e[base] is not None]
            nulls[base] = Null.fit(*(np.array([e[k] for e in rows], dtype=float) for k in (base, "log_min", "log_max")))
    return nulls


# Fewest candidates (with lyric evidence) a query is judged among for the second stage: on shorter lists a
# chance match stands out as far as a version does (covers80-dev, cross-validated, 20 candidates: 11 false
# flags per 100 originals at "maybe" against 2.5 for each judged alone; 40: 4.9 against 1.2, and 92.7 % of
# covers flagged against 85.4 %).
MIN_CANDIDATES = 30
MIN_SPREAD = 1.0  # the rivals' spread of log-odds is read as at least this (a set of near-equal rivals)


@dataclass(frozen=True)
class Standout:
    """The second stage for a query's candidates: the probability that a candidate is a version from its
    pair's log-odds, how far they stand out among the other candidates' (z-score among them), and how high
    the rivals' lie on average. A query that aligns well with everything (a stock blues progression, a hub
    of the catalog) so raises its own bar, and a version that stands alone above its rivals is believed more
    than its pair evidence alone says. A logistic fit at even odds, like :class:`Calibration`, on real
    covers with words — queries with their versions among the candidates and queries without (an original
    has no version to stand out) —; the weights of the standing and of the pair's log-odds are positive (so
    more evidence never lowers a probability), and the rivals' mean is held within the range the fit saw."""

    weights: tuple[float, float, float]  # of the standing, the rivals' mean log-odds and the pair's own
    intercept: float
    rivals_range: tuple[float, float]  # the rivals' mean log-odds seen in the fit
    fitted_on: str
    n_pairs: int

    @staticmethod
    def features(log_odds: np.ndarray) -> np.ndarray:
        """(n, 3): each candidate's standing among the others, the others' mean log-odds, and its own."""
        values = np.asarray(log_odds, dtype=float)
        n = len(values)
        mean = (values.sum() - values) / (n - 1)
        spread = np.sqrt(np.maximum((np.sum(values**2) - values**2) / (n - 1) - mean**2, 0.0))
        return np.column_stack([(values - mean) / np.maximum(spread, MIN_SPREAD), mean, values])

    def log_odds(self, log_odds: np.ndarray) -> np.ndarray:
        """The second stage's log-odds for one query's candidates, from their pair log-odds."""
        features = self.features(log_odds)
        features[:, 1] = np.clip(features[:, 1], *self.rivals_range)
        return features @ np.asarray(self.weights) + self.intercept


def log_odds_of(probability) -> np.ndarray:
    """The log-odds of a probability, held within ±20.7 (a probability within 1e-9 of certainty)."""
    p = np.clip(np.asarray(probability, dtype=float), 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class Calibration:
    weights: tuple[float, ...]
    intercept: float
    fitted_on: str  # which labelled pairs set it
    n_pairs: int
    features: tuple[str, ...] = ("score",)
    nulls: dict[str, Null] = field(default_factory=dict)  # of the scores the features read in null units
    # the fit that judges a pair without lyric evidence (an instrumental recording on either side, or one
    # not transcribed): abstention, not penalty — such a pair is judged on what it has, as if words did
    # not exist, never as two songs whose words differ
    without_words: Calibration | None = None
    standout: Standout | None = None  # how a query's candidates are judged together

    @property
    def slope(self) -> float:
        """The weight of the first feature (the score, for a score-only fit)."""
        return self.weights[0]

    def probability(self, evidence, similarity: float | None = None, words: float | None = None) -> float:
        """That the pair is a version pair, from its Alignment, the cosine ``similarity`` of its embeddings
        and the similarity of its ``words`` (None: either has no lyric evidence) — or, for a score-only fit,
        from its score."""
        if isinstance(evidence, (int, float, np.floating)):
            return _logistic(self.weights[0] * float(evidence) + self.intercept)
        if "similarity" in self.features and similarity is None:
            raise ParameterError("this calibration reads the embeddings' similarity: pass it with the alignment")
        return self.probability_of(evidence_of(evidence, similarity, words))

    def probability_of(self, evidence: dict) -> float:
        """:meth:`probability` of a pair's evidence as :func:`evidence_of` gives it."""
        if evidence["words"] is None and self.without_words is not None:
            return self.without_words.probability_of(evidence)
        return _logistic(
            float(np.dot(self.weights, feature_values(evidence, self.features, self.nulls))) + self.intercept
        )

    def verdict(self, evidence, similarity: float | None = None, words: float | None = None) -> str:
        return verdict_of(self.probability(evidence, similarity, words))

    def save(self, path: str | Path = CALIBRATION_FILE) -> Path:
        path = Path(path)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path


def judge(
    alignment, similarity: float, words: float | None = None, *, calibration: Calibration | None = None
) -> tuple[float, str]:
    """The judgement of two recordings on their own (compare, the links of groups): :func:`judge_candidates`
    of one candidate."""
    return judge_candidates([alignment], [similarity], [words], calibration=calibration)[0]


def judge_candidates(
    alignments: Sequence,
    similarities: Sequence[float],
    words: Sequence[float | None] | None = None,
    *,
    calibration: Calibration | None = None,
) -> list[tuple[float, str] | None]:
    """The one judgement that compare, query, scan and groups all make: for each candidate compared with one
    query (None: not aligned, not judged), the probability that the two are versions and its verdict.

    Each pair's probability at even odds (the shipped calibration, or ``calibration``); when at least
    ``MIN_CANDIDATES`` candidates have lyric evidence (the second stage was fitted on sung real covers; an
    instrumental query is judged as the rendered versions set), how far its log-odds stand out among the
    others' (:class:`Standout`); then the prior of a search that picked among that many
    (:func:`among_candidates`). A lone pair is judged at even odds: the right prior for two recordings
    someone suspects."""
    calibration = calibration or load_calibration()
    words = [None] * len(alignments) if words is None else words
    judged = [n for n, al in enumerate(alignments) if al is not None]
    p = [calibration.probability(alignments[n], similarities[n], words[n]) for n in judged]
    sung = sum(words[n] is not None for n in judged) >= MIN_CANDIDATES
    out: list[tuple[float, str] | None] = [None] * len(alignments)
    for n, probability in zip(judged, among_rivals(np.array(p), calibration.standout if sung else None)):
        out[n] = (float(probability), verdict_of(probability))
    return out


def among_rivals(probabilities: np.ndarray, standout: Standout | None, candidates: int | None = None) -> np.ndarray:
    """The even-odds probabilities of one query's judged candidates, each weighed by its rivals: how far it
    stands out among them (``standout``, with at least ``MIN_CANDIDATES``), then the prior of
    picking among ``candidates`` (default: as many as given; :func:`among_candidates`)."""
    p = np.asarray(probabilities, dtype=float)
    if standout is not None and len(p) >= MIN_CANDIDATES:
        p = _logistic(standout.log_odds(log_odds_of(p)))
    return np.array([among_candidates(float(x), candidates or len(p)) for x in p])


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


def _logistic(z):
    """1 / (1 + e^−z), without overflow for a pair far on either side."""
    return np.exp(-np.logaddexp(0.0, -z))


def verdict_of(probability: float) -> str:
    """ "version", "maybe" or "unrelated" for a calibrated probability."""
    return "version" if probability >= VERSION_AT else "maybe" if probability >= MAYBE_AT else "unrelated"


@functools.lru_cache(maxsize=8)
def load_calibration(path: str | Path = CALIBRATION_FILE) -> Calibration:
    """The calibration stored at ``path`` (read once per process; a Calibration is immutable)."""
    return _calibration_of(json.loads(Path(path).read_text()))


def _calibration_of(data: dict) -> Calibration:
    if "slope" in data:  # a score-only fit written before features were named
        data = {"weights": [data.pop("slope")], **data, "features": ["score"]}
    nulls = {name: Null(tuple(null["mean"]), tuple(null["log_spread"])) for name, null in data.pop("nulls", {}).items()}
    without = data.pop("without_words", None)
    standout = data.pop("standout", None)
    return Calibration(
        **{
            **data,
            "weights": tuple(data["weights"]),
            "features": tuple(data["features"]),
            "nulls": nulls,
            "without_words": None if without is None else _calibration_of(without),
            "standout": None if standout is None else _standout_of(standout),
        }
    )


def _standout_of(data: dict) -> Standout:
    return Standout(**{**data, "weights": tuple(data["weights"]), "rivals_range": tuple(data["rivals_range"])})


def fit_calibration(
    X: np.ndarray,
    is_version: np.ndarray,
    fitted_on: str,
    features: tuple[str, ...] = ("score",),
    nulls: dict[str, Null] | None = None,
    l2: float = 0.0,
) -> Calibration:
    """Logistic regression of ``is_version`` on the feature columns ``X`` (n, len(features)), or on scores
    (n,), by maximum likelihood with balanced classes and an ``l2`` penalty on the weights (not the
    intercept: a nearly separable set otherwise gets weights, and probabilities, without bound);
    ``nulls``: those the features read (see :func:`fit_nulls`)."""
    from scipy.optimize import minimize

    X = np.asarray(X, dtype=float).reshape(len(is_version), -1)
    y = np.asarray(is_version, dtype=float)
    weights = np.where(y > 0, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    A = np.column_stack([X, np.ones(len(X))])

    penalty = np.r_[np.full(X.shape[1], l2), 0.0]

    def loss(theta):
        z = A @ theta
        return float(np.sum(weights * (np.logaddexp(0, z) - y * z)) + 0.5 * np.sum(penalty * theta**2))

    def gradient(theta):
        z = A @ theta
        return A.T @ (weights * (_logistic(z) - y)) + penalty * theta

    start = np.zeros(A.shape[1])
    theta = minimize(loss, start, jac=gradient, method="BFGS").x
    return Calibration(
        tuple(float(w) for w in theta[:-1]),
        float(theta[-1]),
        fitted_on,
        int(len(y)),
        tuple(features),
        dict(nulls or {}),
    )
