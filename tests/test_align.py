import numpy as np
import pytest

from homage.align import AlignConfig, Prepared, align_cqt, align_sequences
from homage.align.qmax import cross_recurrence, qmax_matrix, strongest_paths
from homage.align.sequences import best_shifts, delay_embed, signed_semitones, transposition_candidates
from homage.features.cqt import cqt

from conftest import synth_piece


@pytest.fixture(scope="module")
def piece_cqt():
    return cqt(synth_piece(1, seconds=40))


def test_transposed_faster_inserted_copy_aligns_where_it_should(piece_cqt):
    """B = 15 s of another piece, then 30 s of A transposed up 3 semitones and 1.2× faster."""
    b = np.concatenate([synth_piece(5, seconds=15), synth_piece(1, transpose=3, tempo=1.2, seconds=30)])
    result = align_cqt(piece_cqt, cqt(b))
    assert result.transposition == 3
    assert result.tempo_ratio == pytest.approx(1 / 1.2, abs=0.08)
    best = result.segments[0]
    assert best.a_start == pytest.approx(0.0, abs=3.0) and best.a_end == pytest.approx(36.0, abs=4.0)
    assert best.b_start == pytest.approx(15.0, abs=3.0) and best.b_end == pytest.approx(45.0, abs=4.0)
    unrelated = align_cqt(piece_cqt, cqt(synth_piece(7, seconds=40)))
    assert result.score > 2 * unrelated.score


def test_identical_sequences_align_on_the_diagonal():
    rng = np.random.default_rng(0)
    a = rng.random((60, 12)).astype(np.float32)
    result = align_sequences(a, a, AlignConfig(embed_dim=4))
    assert result.transposition == 0 and result.tempo_ratio == pytest.approx(1.0)
    assert (result.path[:, 0] == result.path[:, 1]).all()
    assert result.qmax == pytest.approx(len(a) - 3)  # every embedded frame recurs with itself


def test_optimal_transposition_and_signed_semitones():
    rng = np.random.default_rng(1)
    a = rng.random((50, 12))
    assert transposition_candidates(a, np.roll(a, 4, axis=1), 2)[0] == 8  # rolling back by 8 ≡ −4
    assert signed_semitones(8) == -4 and signed_semitones(6) == 6 and signed_semitones(0) == 0


def test_the_transposition_follows_each_frames_strongest_pitch_classes_not_the_floor_beneath_them():
    """Two versions share their strong pitch classes (b is a transposed up 3) but not the floor beneath:
    b's arrangement keeps three other pitch classes sounding. Summed magnitudes let that floor pick the
    key; summed energies do not."""
    rng = np.random.default_rng(0)
    strong = np.eye(12, dtype=np.float32)[rng.choice([0, 2, 4, 5, 7, 9, 11], 200)]
    floor_b = np.zeros((200, 12), dtype=np.float32)
    floor_b[:, [1, 6, 8]] = 0.3
    a, b = strong + 0.2 * rng.random((200, 12)).astype(np.float32), np.roll(strong, 3, axis=1) + floor_b
    a, b = (x / np.linalg.norm(x, axis=1, keepdims=True) for x in (a, b))
    assert transposition_candidates(a, b, 1)[0] == 9  # rolling back by 9 ≡ −3
    magnitudes = a.sum(axis=0), b.sum(axis=0)
    assert best_shifts(*magnitudes, 1)[0] != 9


def test_prepared_qmax_at_one_shift_is_the_alignments_score_there():
    from homage.align import Prepared

    rng = np.random.default_rng(4)
    a = rng.random((60, 24)).astype(np.float32)
    b = np.roll(a, 5, axis=1)[4:]
    b[:, 12:] = np.roll(a[4:, 12:], 5, axis=1)
    prepared = Prepared(a)
    found = prepared.align(b, melody=True)
    shift = (-found.transposition) % 12
    assert prepared.qmax(b, shift) == pytest.approx(found.qmax)
    assert prepared.qmax(b, shift, "melody") / np.sqrt(len(b) - 4) == pytest.approx(found.melody_score)
    assert prepared.qmax(b, (shift + 6) % 12) < found.qmax


def test_delay_embedding_shape_and_norm():
    x = np.arange(24, dtype=np.float32).reshape(12, 2) + 1
    E = delay_embed(x, 3)
    assert E.shape == (10, 6)
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, rtol=1e-6)
    assert delay_embed(x[:2], 3).shape == (1, 6)  # shorter than the embedding: padded, not empty


def test_cross_recurrence_is_mutual():
    rng = np.random.default_rng(2)
    A = delay_embed(rng.random((40, 12)), 2)
    R = cross_recurrence(A, A, kappa=0.1)
    assert R.dtype == np.uint8 and (np.diag(R) == 1).all()
    assert (R.sum(axis=1) <= 4).all()  # at most the 10 % nearest of 39 columns (ties aside)


def test_qmax_by_hand():
    R = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]], dtype=np.uint8)
    Q = qmax_matrix(R, 2.0, 0.5)
    # diagonal run of 2, a gap right after a recurrence (onset 2 → 0), then a new recurrence
    assert Q[0, 0] == 1 and Q[1, 1] == 2 and Q[2, 2] == 0 and Q[3, 3] == 1
    cells, starts, strengths = strongest_paths(Q, 3)
    assert cells[starts[0] : starts[1]].tolist() == [[0, 0], [1, 1]] and strengths[0] == 2  # the strongest first
    assert (
        cells[starts[1] : starts[2]].tolist() == [[3, 3]] and len(strengths) == 2
    )  # then one in other rows and columns


def test_qmax_equals_the_textbook_recursion():
    """The vectorised kernel computes Serrà's recursion cell by cell."""
    rng = np.random.default_rng(5)
    R = (rng.random((60, 45)) < 0.15).astype(np.uint8)
    onset, extension = 2.0, 0.5
    Q = np.zeros((62, 47))
    for i in range(2, 62):
        for j in range(2, 47):
            if R[i - 2, j - 2]:
                Q[i, j] = max(Q[i - 1, j - 1], Q[i - 2, j - 1], Q[i - 1, j - 2]) + 1
            else:

                def gap(di, dj, i=i, j=j):
                    return Q[i - di, j - dj] - (
                        onset if R[i - di - 2, j - dj - 2] and i - di >= 2 and j - dj >= 2 else extension
                    )

                Q[i, j] = max(0.0, gap(1, 1), gap(2, 1), gap(1, 2))
    np.testing.assert_allclose(qmax_matrix(R, onset, extension), Q[2:, 2:], atol=1e-5)


def test_calibration_fit_orders_and_separates_scores():
    from homage.align.verdict import fit_calibration

    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.normal(5, 1, 200), rng.normal(2, 0.7, 200)])
    truth = np.array([1] * 200 + [0] * 200)
    cal = fit_calibration(scores, truth, "synthetic")
    assert cal.slope > 0
    assert cal.probability(7.0) > 0.95 and cal.probability(1.0) < 0.05
    assert cal.verdict(7.0) == "version" and cal.verdict(1.0) == "unrelated"
    midpoint = -cal.intercept / cal.slope
    assert 3.0 < midpoint < 4.0 and cal.verdict(midpoint) == "maybe"


def test_shipped_calibration_says_where_it_comes_from():
    from homage.align.verdict import load_calibration

    cal = load_calibration()
    assert "real covers" in cal.fitted_on and "words" in cal.features and cal.n_pairs > 1000 and cal.slope > 0
    assert "corpus" in cal.without_words.fitted_on and "words" not in cal.without_words.features  # instrumental


def test_a_pair_without_words_is_judged_on_what_it_has_not_penalised():
    """Abstention, not penalty: a pair with no lyric evidence is judged by the fit without words; with
    words, more shared words make a version more likely."""
    from homage.align.verdict import load_calibration

    calibration = load_calibration()
    rng = np.random.default_rng(1)
    a = rng.random((200, 24)).astype(np.float32)
    al = Prepared(a).align(np.roll(a, 3, axis=0), melody=True)
    assert calibration.probability(al, 0.5) == calibration.without_words.probability(al, 0.5)
    weak = Prepared(a).align(rng.random((200, 24)).astype(np.float32), melody=True)  # pitch says little
    assert (
        calibration.probability(weak, 0.5, 0.02)
        < calibration.probability(weak, 0.5, 0.3)
        < calibration.probability(weak, 0.5, 0.6)
    )


def test_fuse_uses_both_scores():
    from homage.align.rerank import fuse

    similarity = np.array([0.9, 0.8, 0.7])
    alignment = np.array([1.0, 6.0, 1.0])
    assert np.argmax(fuse(similarity, alignment)) == 1
    assert np.argmax(fuse(similarity, alignment, weights=(1.0, 0.0, 0.0))) == 0


def test_rerank_pulls_the_aligned_version_forward_and_keeps_the_rest_in_embedding_order():
    from homage.align.rerank import rerank

    rng = np.random.default_rng(0)
    query = rng.random((40, 12)).astype(np.float32)
    candidates = [rng.random((40, 12)).astype(np.float32) for _ in range(5)]
    candidates[2] = query.copy()  # aligns perfectly
    similarity = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    ranked = rerank(query, candidates[:4] + [None], similarity)  # the last one beyond the depth
    assert ranked.order[0] == 2 and ranked.order[-1] == 4
    assert ranked.alignments[4] is None and ranked.alignments[2].score > ranked.alignments[0].score
    assert ranked.scores[4] < ranked.scores[:4].min()  # below every aligned candidate
    np.testing.assert_array_equal(np.argsort(-ranked.scores, kind="stable"), ranked.order)


def test_prepared_query_aligns_as_a_fresh_one():
    from homage.align import Prepared

    rng = np.random.default_rng(3)
    a = rng.random((50, 12)).astype(np.float32)
    b = np.roll(a, 5, axis=1)[5:]  # transposed, a little shorter
    prepared = Prepared(a)
    for other in (b, rng.random((45, 12)).astype(np.float32), b):
        reused, fresh = prepared.align(other), align_sequences(a, other)
        assert reused.score == fresh.score and reused.transposition == fresh.transposition
        np.testing.assert_array_equal(reused.cross_recurrence, fresh.cross_recurrence)


def test_recurrence_threshold_equals_a_sort():
    from homage.align.qmax import kth_largest

    rng = np.random.default_rng(4)
    S = (2 * rng.random((30, 200)) - 1).astype(np.float32)
    S[:, :50] = 0.25  # ties
    for k in (1, 20, 60, 200):
        np.testing.assert_array_equal(kth_largest(S, k), np.sort(S, axis=1)[:, -k])


def test_the_verdict_accounts_for_how_long_the_compared_material_is():
    """A short clip matches a stretch of anything by chance: the same alignment score says less about it
    than about whole songs, and the verdict does not depend on which of the two is A."""
    from homage.align.verdict import load_calibration

    calibration = load_calibration()
    assert "score_min" in calibration.nulls  # the lengths enter through the score's null
    rng = np.random.default_rng(0)
    song, clip = rng.random((300, 12)).astype(np.float32), rng.random((50, 12)).astype(np.float32)  # unrelated
    one, other = align_sequences(song, clip), align_sequences(clip, song)
    assert one.score > other.score  # the raw score (over B's frames) depends on the order …
    assert calibration.probability(one, 0.3) == pytest.approx(
        calibration.probability(other, 0.3)
    )  # … the verdict does not
    assert calibration.verdict(one, 0.3) != "version"
    a = rng.random((60, 12)).astype(np.float32)
    short, long = align_sequences(a[:20], a[:20]), align_sequences(a, a)
    assert calibration.probability(short, 0.5) < calibration.probability(long, 0.5)


def test_the_verdict_weighs_the_embeddings_too_and_asks_for_them():
    from homage.align.verdict import load_calibration
    from homage.errors import ParameterError

    calibration = load_calibration()
    rng = np.random.default_rng(1)
    a = rng.random((80, 12)).astype(np.float32)
    al = align_sequences(a, np.roll(a, 2, axis=1))
    assert calibration.probability(al, 0.2) < calibration.probability(al, 0.8)
    with pytest.raises(ParameterError, match="similarity"):
        calibration.probability(al)


def test_a_null_fitted_on_non_versions_measures_a_score_in_its_spread_at_those_lengths():
    from homage.align.verdict import Null

    rng = np.random.default_rng(2)
    log_min, log_max = rng.uniform(3, 6, 4000), rng.uniform(5, 7, 4000)
    mean, spread = 0.5 + 0.3 * log_min, np.exp(-1.0 + 0.2 * log_min)  # chance scores grow and widen with length
    null = Null.fit(mean + spread * rng.standard_normal(4000), log_min, log_max)
    z = null.z(mean + 2 * spread, log_min, log_max)  # two spreads above the mean, at every length
    assert np.median(z) == pytest.approx(2 / 0.530, rel=0.1)  # the spread: the geometric mean |deviation|, 0.53 σ
    assert np.std(z) < 0.1 * np.median(z)  # the same at every length
    assert null.excess(mean[:5], log_min[:5], log_max[:5]) == pytest.approx(np.zeros(5), abs=0.05)


def test_a_calibration_with_nulls_survives_a_round_trip_and_reads_a_missing_top_line_as_no_evidence(tmp_path):
    from dataclasses import replace

    from homage.align.verdict import evidence_of, feature_values, fit_calibration, fit_nulls, load_calibration

    rng = np.random.default_rng(5)
    a = rng.random((120, 24)).astype(np.float32)
    versions = [Prepared(a).align(np.roll(a, k, axis=0)[: 100 - k], melody=True) for k in range(10)]
    others = [Prepared(a).align(rng.random((100, 24)).astype(np.float32), melody=True) for _ in range(40)]
    evidence = [evidence_of(al, 0.6) for al in versions] + [evidence_of(al, 0.2) for al in others]
    truth = np.array([True] * len(versions) + [False] * len(others))
    features = ("score_min_z", "melody_min_z", "similarity")
    nulls = fit_nulls([e for e, same in zip(evidence, truth) if not same], features)
    X = np.array([feature_values(e, features, nulls) for e in evidence])
    fitted = fit_calibration(X, truth, "synthetic", features, nulls)
    loaded = load_calibration(fitted.save(tmp_path / "calibration.json"))
    assert loaded == fitted
    assert loaded.probability(versions[0], 0.6) > 0.9 > 0.1 > loaded.probability(others[0], 0.2)
    no_top_line = replace(versions[0], melody_score=None)
    assert feature_values(evidence_of(no_top_line, 0.6), features, nulls)[1] == 0.0  # the null's mean
    assert loaded.probability(no_top_line, 0.6) != loaded.probability(versions[0], 0.6)


def test_a_search_weighs_its_verdicts_by_the_candidates_it_judged():
    from homage.align.verdict import among_candidates

    assert among_candidates(0.9, 1) == 0.9 and among_candidates(0.9, 2) == 0.9  # one pair: as calibrated
    odds = lambda p: p / (1 - p)  # noqa: E731
    assert odds(among_candidates(0.9, 11)) == pytest.approx(odds(0.9) / 10)
    assert among_candidates(0.99, 100) < among_candidates(0.99, 10) < 0.99
    assert among_candidates(1.0, 100) > 0.999  # certainty stays certainty


def test_a_candidates_standing_is_its_z_score_among_the_others():
    from homage.align.verdict import MIN_SPREAD, Standout

    values = np.random.default_rng(2).normal(-4, 3, 30)
    features = Standout.features(values)
    for k in (0, 7, 29):
        rest = np.delete(values, k)
        standing = (values[k] - rest.mean()) / max(rest.std(), MIN_SPREAD)
        assert features[k] == pytest.approx([standing, rest.mean(), values[k]])
    assert Standout.features(np.full(12, -3.0))[0, 0] == 0.0  # equal rivals: no spread, no standing


def test_a_querys_candidates_are_judged_together():
    """A candidate alone above weak rivals is believed more than the same pair among strong ones, and more
    than the prior of the candidate count alone says; more evidence never lowers a probability."""
    from homage.align.verdict import among_candidates, among_rivals, load_calibration

    standout = load_calibration().standout
    assert standout.weights[0] > 0 and standout.weights[2] > 0  # the standing and the pair's own log-odds
    rng = np.random.default_rng(3)
    weak, strong = rng.uniform(0.001, 0.05, 60), rng.uniform(0.6, 0.95, 60)
    alone, crowded = (among_rivals(np.r_[0.95, rivals], standout)[0] for rivals in (weak, strong))
    assert alone > max(crowded, among_candidates(0.95, 61))
    rising = [among_rivals(np.r_[p, weak], standout)[0] for p in (0.2, 0.5, 0.9, 0.99, 0.999)]
    assert rising == sorted(rising)
    assert among_rivals(np.r_[0.95, weak], None)[0] == pytest.approx(among_candidates(0.95, 61))
    few = np.r_[0.95, weak[:20]]  # too few rivals to say how far one stands out: the prior alone
    assert among_rivals(few, standout) == pytest.approx(among_rivals(few, None))


def test_judge_candidates_sets_instrumental_queries_and_lone_pairs_apart():
    """Without words (an instrumental query) the second stage, fitted on sung covers, is not applied; a lone
    pair is judged at even odds — both as the calibration alone says."""
    from homage.align.verdict import (
        MIN_CANDIDATES,
        among_candidates,
        among_rivals,
        judge,
        judge_candidates,
        load_calibration,
    )

    calibration = load_calibration()
    rng = np.random.default_rng(4)
    q = Prepared(rng.random((200, 24)).astype(np.float32))
    n = MIN_CANDIDATES
    alignments = [q.align(rng.random((100, 24)).astype(np.float32), melody=True) for _ in range(n)] + [None]
    similarities = rng.uniform(0, 0.5, n + 1).tolist()
    even = [calibration.probability(al, s) for al, s in zip(alignments[:n], similarities)]
    instrumental = judge_candidates(alignments, similarities)
    assert instrumental[-1] is None  # not aligned, not judged
    assert [p for p, _ in instrumental[:n]] == pytest.approx([among_candidates(p, n) for p in even])
    words = rng.uniform(0, 0.1, n + 1).tolist()
    with_words = np.array([calibration.probability(*evidence) for evidence in zip(alignments[:n], similarities, words)])
    sung = [p for p, _ in judge_candidates(alignments, similarities, words)[:n]]
    assert sung == pytest.approx(list(among_rivals(with_words, calibration.standout)))
    assert sung != pytest.approx(list(among_rivals(with_words, None)))  # the second stage was applied
    short = [p for p, _ in judge_candidates(alignments[: n - 1], similarities, words)]  # too few: each alone
    assert short == pytest.approx([among_candidates(p, n - 1) for p in with_words[: n - 1]])
    assert judge(alignments[0], similarities[0])[0] == pytest.approx(even[0])


def test_top_line_chroma_follows_the_melody_above_the_chords():
    from homage.align.sequences import top_line_chroma
    from homage.features.cqt import CQTSpec

    spec = CQTSpec()
    melody = [0, 4, 7, 9, 5, 2] * 5  # pitch classes, one per 0.4 s (10 CQT frames at 25 fps)
    C = np.full((84, 10 * len(melody)), 1e-3, dtype=np.float32)
    for k, pc in enumerate(melody):
        frames = slice(10 * k, 10 * (k + 1))
        C[[24 + 5, 24 + 9], frames] = 0.9  # a loud accompaniment below C4 (MIDI 53, 57: F, A)
        C[36 + 0, frames] = 0.2  # a quieter chord tone inside the lead's register (MIDI 60: C)
        C[48 + pc, frames] = 0.3  # the melody (MIDI 72 + pc)
    top = top_line_chroma(C, spec, frame_rate=2.5)
    assert top.shape == (len(melody), 12)
    assert top.argmax(axis=1).tolist() == melody


def test_melody_part_of_a_sequence_is_aligned_at_the_chroma_transposition():
    from homage.align import Prepared

    rng = np.random.default_rng(3)
    chroma = rng.random((60, 12)).astype(np.float32)
    tune = np.eye(12, dtype=np.float32)[rng.integers(0, 12, 60)]
    query = np.hstack([chroma, tune])
    harmony = np.roll(chroma + 0.3 * rng.random((60, 12)).astype(np.float32), 2, axis=1)  # 2 semitones up
    same_tune = np.hstack([harmony, np.roll(tune, 2, axis=1)])
    other_tune = np.hstack([harmony, np.eye(12, dtype=np.float32)[rng.integers(0, 12, 60)]])
    prepared = Prepared(query)
    found = prepared.align(same_tune, melody=True)
    assert found.transposition == 2 and found.melody_score > 1.25 * prepared.align(other_tune, melody=True).melody_score
    assert prepared.align(chroma, melody=True).melody_score is None
    assert Prepared(chroma).align(same_tune, melody=True).melody_score is None
    assert prepared.align(same_tune).melody_score is None  # only when asked: the verdict does not read it
    assert found.score == pytest.approx(Prepared(chroma).align(harmony).score)


def _alignment(score, melody, frames=100):
    from homage.align import Alignment

    return Alignment(
        score=score,
        qmax=score * np.sqrt(frames),
        melody_score=melody,
        transposition=0,
        tempo_ratio=1.0,
        frames_a=frames,
        frames_b=frames,
    )


def test_snorm_lowers_a_candidate_that_aligns_well_with_everything():
    """Equal evidence from the query's side: the candidate whose own candidates align as well (a hub) falls
    below the one for which the query stands out; without cohorts the embedding order decides."""
    from homage.align.rerank import Cohort, rank

    alignments = [_alignment(6.0, 3.0), _alignment(6.0, 3.0), _alignment(2.0, 1.0), _alignment(2.5, 1.2)]
    similarity = np.array([0.8, 0.8, 0.5, 0.4])
    assert list(rank(alignments, similarity).order[:2]) == [0, 1]
    hub = Cohort(np.array([0.7, 5.5, 2.8]), np.array([0.1, 1.0, 0.5]), 100)
    loner = Cohort(np.array([0.5, 2.0, 1.0]), np.array([0.1, 1.0, 0.5]), 100)
    ranked = rank(alignments, similarity, cohorts=[hub, loner, None, None])
    assert list(ranked.order[:2]) == [1, 0] and ranked.scores[1] > ranked.scores[0]
    plain = rank(alignments, similarity).scores
    assert ranked.scores[2] == pytest.approx(plain[2])  # without a cohort: measured from the query's side only


def test_a_query_summarises_its_own_candidates_as_a_cohort():
    from homage.align.rerank import MIN_COHORT, Cohort, cohort_of

    rng = np.random.default_rng(1)
    scores, melody = rng.random(MIN_COHORT) * 5, rng.random(MIN_COHORT) * 2
    similarity = rng.random(MIN_COHORT + 1)
    alignments = [_alignment(s, m) for s, m in zip(scores, melody)] + [None]  # the last one not aligned
    cohort = cohort_of(alignments, similarity)
    np.testing.assert_allclose(cohort.mean, [similarity[:-1].mean(), scores.mean(), melody.mean()])
    np.testing.assert_allclose(cohort.std, [similarity[:-1].std(), scores.std(), melody.std()])
    assert cohort.size == MIN_COHORT
    again = Cohort.from_array(cohort.size, cohort.to_array())
    np.testing.assert_allclose(again.mean, cohort.mean, rtol=1e-6)
    np.testing.assert_allclose(again.std, cohort.std, rtol=1e-6)
    assert cohort_of(alignments[:3], similarity[:3]) is None  # too few candidates to summarise
    flat = [_alignment(s, 0.0) for s in scores]  # no top line: the melody scores do not spread
    assert cohort_of(flat, similarity[:-1]) is None
