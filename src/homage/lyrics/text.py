"""From a transcript to lyric evidence: the words that count, how alike two recordings' words are, and the
lines they share with their times.

A transcript of music is noisy. What is dropped: segments Whisper itself marks as no speech, filler it
makes up over instrumental passages ("thank you", "I'm going to go to the next one"), and the loops of greedy
decoding (a phrase repeated back to back is kept once; a line repeated later in the song is kept once).
What is left are the recording's :class:`Lyrics`; with too few distinct words there is no lyric evidence
at all (:attr:`Lyrics.abstains`): two instrumental recordings never look alike through what Whisper
invented over them. Poor but real transcripts are kept: TF-IDF weighs the rare words of a song, and the
inverse document frequencies come from the catalog's own transcripts, so a stock line weighs little.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from homage.lyrics.transcribe import Segment, Transcript

MIN_WORDS = 12  # fewer distinct words than this: the recording has no lyric evidence
MIN_SHARED_WORDS = 4  # shortest run of words two recordings must share to show it as a shared line
NO_SPEECH = (0.6, -1.0)  # Whisper's own test: no_speech_prob above and avg_logprob below → silence
LOOP_MIN_REPEATS = 3  # a phrase repeated back to back this often is a decoding loop
LOOP_MAX_WORDS = 16  # longest phrase looked for as a loop
LINE_GAP_S = 1.0  # a pause this long between two words ends a line
BACKGROUND_SONGS = 100  # the general-English prior on document frequencies counts as this many songs
SONG_WORDS = 250  # words in a typical song, for the prior
# What Whisper writes over music, applause or silence; normalised, whole-segment matches.
FILLER = frozenset(
    {
        "you",
        "thank you",
        "thank you very much",
        "thanks for watching",
        "thank you for watching",
        "please subscribe",
        "subscribe",
        "bye",
        "bye bye",
        "oh",
        "ah",
        "music",
        "applause",
        "laughter",
        "im going to go to the next one",
        "im gonna be right back",
        "ill be right back",
        "see you next time",
        "thank you so much",
        "thanks",
        "okay",
        "yeah",
        "so",
        "the end",
        "you know",
        "subtitles by the amaraorg community",
    }
)
# Phrases Whisper invents inside a segment (over an intro, between verses): cut out wherever they occur.
FILLER_PHRASES = (
    ("im", "going", "to", "go", "to", "the", "next", "one"),
    ("im", "gonna", "go", "to", "the", "next", "one"),
    ("im", "gonna", "go", "back", "to", "the", "next", "one"),
    ("thank", "you", "for", "watching"),
    ("thanks", "for", "watching"),
    ("please", "subscribe"),
    ("subtitles", "by", "the", "amaraorg", "community"),
)
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokens(text: str) -> list[str]:
    """Lower-case words of ``text``, punctuation and apostrophes dropped ("Don't!" → "dont")."""
    return [t.replace("'", "") for t in _TOKEN.findall(text.lower().replace("’", "'"))]


@dataclass(frozen=True)
class TimedWord:
    word: str  # normalised
    start: float
    end: float


@dataclass(frozen=True)
class Lyrics:
    """The words of a recording that count as evidence, in order, with their times."""

    words: tuple[TimedWord, ...]

    @property
    def distinct(self) -> int:
        return len({w.word for w in self.words})

    @property
    def abstains(self) -> bool:
        """No lyric evidence: instrumental, or nothing but filler left."""
        return self.distinct < MIN_WORDS

    @property
    def text(self) -> str:
        return " ".join(w.word for w in self.words)

    def terms(self) -> Counter:
        """Word 1- and 2-grams and their counts (none when the recording abstains)."""
        if self.abstains:
            return Counter()
        seq = [w.word for w in self.words]
        return Counter(seq) + Counter(f"{a} {b}" for a, b in zip(seq, seq[1:]))


def clean(transcript: Transcript) -> Lyrics:
    """The :class:`Lyrics` of a transcript: no-speech segments, filler lines and phrases dropped, decoding
    loops and repeated lines collapsed."""
    words: list[TimedWord] = []
    seen_lines: set[tuple[str, ...]] = set()
    for segment in transcript.segments:
        if _is_silence(segment):
            continue
        for line in _lines(segment):
            line = _collapse_loops(_without_filler(line))
            key = tuple(w.word for w in line)
            if not key or " ".join(key) in FILLER or key in seen_lines:
                continue
            seen_lines.add(key)
            words.extend(line)
    return Lyrics(tuple(words))


def _lines(segment: Segment) -> list[list[TimedWord]]:
    """A segment's words as sung lines: a line ends at a word that ends a clause (. , ! ? ;) or before a
    pause of :data:`LINE_GAP_S`."""
    if not segment.words:
        return [_spread_words(segment)]
    lines, line = [], []
    for n, w in enumerate(segment.words):
        line += [TimedWord(t, w.start, w.end) for t in tokens(w.text)]
        following = segment.words[n + 1] if n + 1 < len(segment.words) else None
        if following is None or w.text.rstrip()[-1:] in ".,!?;" or following.start - w.end > LINE_GAP_S:
            if line:
                lines.append(line)
            line = []
    return lines


def _is_silence(segment: Segment) -> bool:
    return segment.no_speech_prob > NO_SPEECH[0] and segment.avg_logprob < NO_SPEECH[1]


def _spread_words(segment: Segment) -> list[TimedWord]:
    """The normalised words of a segment without word times, the segment's span spread evenly over them."""
    found = tokens(segment.text)
    step = (segment.end - segment.start) / max(len(found), 1)
    return [TimedWord(t, segment.start + n * step, segment.start + (n + 1) * step) for n, t in enumerate(found)]


def _without_filler(words: list[TimedWord]) -> list[TimedWord]:
    """``words`` with every occurrence of a :data:`FILLER_PHRASES` phrase cut out."""
    seq = [w.word for w in words]
    keep = np.ones(len(seq), bool)
    for phrase in FILLER_PHRASES:
        n = len(phrase)
        for i in range(len(seq) - n + 1):
            if tuple(seq[i : i + n]) == phrase:
                keep[i : i + n] = False
    return [w for w, k in zip(words, keep) if k]


def _collapse_loops(words: list[TimedWord]) -> list[TimedWord]:
    """A phrase of up to :data:`LOOP_MAX_WORDS` words repeated back to back :data:`LOOP_MIN_REPEATS` times or
    more kept once."""
    seq = [w.word for w in words]
    out: list[TimedWord] = []
    i = 0
    while i < len(seq):
        for n in range(1, LOOP_MAX_WORDS + 1):
            phrase = seq[i : i + n]
            repeats = 1
            while seq[i + repeats * n : i + (repeats + 1) * n] == phrase:
                repeats += 1
            if len(phrase) == n and repeats >= LOOP_MIN_REPEATS:
                out.extend(words[i : i + n])
                i += repeats * n
                break
        else:
            out.append(words[i])
            i += 1
    return out


def idf(document_frequency: Mapping[str, int], documents: int, term: str) -> float:
    """Inverse document frequency of ``term`` among ``documents`` transcripts, with a background of
    :data:`BACKGROUND_SONGS` typical English songs (:func:`background_share`): a small catalog, or the two
    recordings of a comparison, still knows that "the" or "I love you" says little; a large one speaks
    for itself."""
    share = background_share(term)
    return (
        math.log((1 + documents + BACKGROUND_SONGS) / (1 + document_frequency.get(term, 0) + BACKGROUND_SONGS * share))
        + 1.0
    )


@functools.lru_cache(maxsize=200_000)
def background_share(term: str) -> float:
    """The share of typical English songs of :data:`SONG_WORDS` words that use ``term`` (a word, or a
    two-word term as if its words were independent), from wordfreq's English word frequencies."""
    from wordfreq import word_frequency

    share = 1.0
    for word in term.split():
        share *= 1.0 - (1.0 - word_frequency(word, "en")) ** SONG_WORDS
    return share


def document_frequencies(all_terms: Iterable[Counter]) -> tuple[Counter, int]:
    """How many of the recordings use each term, and how many recordings have words."""
    df: Counter = Counter()
    n = 0
    for terms in all_terms:
        if terms:
            df.update(terms.keys())
            n += 1
    return df, n


def tfidf(terms: Counter, document_frequency: Mapping[str, int], documents: int) -> dict[str, float]:
    """L2-normalised TF-IDF weights (sub-linear term frequency) of one recording's terms."""
    weights = {t: (1.0 + math.log(c)) * idf(document_frequency, documents, t) for t, c in terms.items()}
    norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
    return {t: v / norm for t, v in weights.items()}


def similarity(a: Mapping[str, float], b: Mapping[str, float]) -> float | None:
    """Cosine of two TF-IDF vectors; None when either recording has no lyric evidence."""
    if not a or not b:
        return None
    small, large = (a, b) if len(a) < len(b) else (b, a)
    return float(sum(v * large.get(t, 0.0) for t, v in small.items()))


@dataclass(frozen=True)
class SharedLine:
    """A run of words two recordings both sing, with where it is in each."""

    text: str
    a_start: float
    a_end: float
    b_start: float
    b_end: float
    weight: float  # sum of the run's words' IDF: how telling it is

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "a_start": self.a_start,
            "a_end": self.a_end,
            "b_start": self.b_start,
            "b_end": self.b_end,
            "weight": round(self.weight, 3),
        }


def shared_lines(
    a: Lyrics,
    b: Lyrics,
    document_frequency: Mapping[str, int] | None = None,
    documents: int = 0,
    *,
    min_words: int = MIN_SHARED_WORDS,
    limit: int = 8,
) -> list[SharedLine]:
    """The longest runs of at least ``min_words`` words that A and B both sing, each shown once (the most
    telling first, by the summed IDF of their words), with their times in both."""
    if a.abstains or b.abstains:
        return []
    x, y = [w.word for w in a.words], [w.word for w in b.words]
    runs = _common_runs(x, y, min_words)
    df = document_frequency or {}
    found: dict[str, SharedLine] = {}
    used_a, used_b = np.zeros(len(x), bool), np.zeros(len(y), bool)
    for length, i, j in runs:
        if used_a[i : i + length].any() or used_b[j : j + length].any():
            continue
        used_a[i : i + length] = used_b[j : j + length] = True
        text = " ".join(x[i : i + length])
        if text in found:
            continue
        weight = sum(idf(df, documents, t) for t in x[i : i + length])
        wa, wb = a.words, b.words
        found[text] = SharedLine(text, wa[i].start, wa[i + length - 1].end, wb[j].start, wb[j + length - 1].end, weight)
    return sorted(found.values(), key=lambda s: -s.weight)[:limit]


def _common_runs(x: list[str], y: list[str], min_words: int) -> list[tuple[int, int, int]]:
    """Maximal runs of equal words ``(length, start in x, start in y)``, longest first."""
    if not x or not y:
        return []
    vocabulary = {w: n for n, w in enumerate(dict.fromkeys(x + y))}
    X, Y = np.array([vocabulary[w] for w in x]), np.array([vocabulary[w] for w in y])
    equal = X[:, None] == Y[None, :]
    run = np.zeros((len(x) + 1, len(y) + 1), dtype=np.int32)
    for i in range(len(x)):
        run[i + 1, 1:] = np.where(equal[i], run[i, :-1] + 1, 0)
    ends = np.argwhere(run[1:, 1:] >= min_words)
    maximal = []
    for i, j in ends:  # a run ends where the next pair of words differs
        if i + 1 < len(x) and j + 1 < len(y) and equal[i + 1, j + 1]:
            continue
        length = int(run[i + 1, j + 1])
        maximal.append((length, int(i) - length + 1, int(j) - length + 1))
    return sorted(maximal, key=lambda r: (-r[0], r[1], r[2]))


def tfidf_rows(all_terms: list[Counter]):
    """The L2-normalised TF-IDF vectors of several recordings' terms as the rows of a sparse matrix, the
    document frequencies taken from these recordings (a recording without words: a row of zeros)."""
    from scipy import sparse

    df, documents = document_frequencies(all_terms)
    vocabulary = {t: n for n, t in enumerate(df)}
    rows, cols, values = [], [], []
    for r, terms in enumerate(all_terms):
        for t, v in tfidf(terms, df, documents).items():
            rows.append(r)
            cols.append(vocabulary[t])
            values.append(v)
    return sparse.csr_matrix((values, (rows, cols)), shape=(len(all_terms), max(len(vocabulary), 1)))


def similarity_matrix(all_terms: list[Counter]) -> np.ndarray:
    """Cosine similarity of every two recordings' words (:func:`tfidf_rows`); NaN where either has no
    lyric evidence."""
    X = tfidf_rows(all_terms)
    W = np.asarray((X @ X.T).todense(), dtype=float)
    has = np.array([bool(t) for t in all_terms])
    W[~has, :] = np.nan
    W[:, ~has] = np.nan
    return W


def similarities(
    query: Counter, others: list[Mapping[str, int] | None], document_frequency: Mapping[str, int], documents: int
) -> np.ndarray:
    """The words' similarity of a query's terms to each of ``others`` (TF-IDF cosine with the given
    document frequencies); NaN where the query or another has no lyric evidence (None or empty)."""
    out = np.full(len(others), np.nan)
    if not query:
        return out
    q = tfidf(query, document_frequency, documents)
    for n, terms in enumerate(others):
        if terms:
            out[n] = similarity(q, tfidf(Counter(terms), document_frequency, documents))
    return out
