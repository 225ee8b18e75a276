import numpy as np
import pytest

from homage.evaluation.metrics import ranked_relevance, retrieval_scores


def test_hand_computed_example_with_three_versions_and_a_tie():
    # works: A A A B B ; distances chosen by hand (symmetric)
    labels = np.array(["A", "A", "A", "B", "B"])
    D = np.array(
        [
            [0.0, 0.1, 0.5, 0.3, 0.6],
            [0.1, 0.0, 0.4, 0.4, 0.9],
            [0.5, 0.4, 0.0, 0.2, 0.3],
            [0.3, 0.4, 0.2, 0.0, 0.7],
            [0.6, 0.9, 0.3, 0.7, 0.0],
        ]
    )
    rel = ranked_relevance(D, labels)
    # query 1: others at 0.1(A) 0.4(A) 0.4(B) 0.9(B); the tie at 0.4 puts the non-version first
    assert rel[1].tolist() == [True, False, True, False]
    scores = retrieval_scores(D, labels, k=2)
    # APs: q0 [A .1, B .3, A .5, B .6] → (1 + 2/3)/2; q1 [A, B, A, B] → (1 + 2/3)/2;
    # q2 [B .2, B .3, A .4, A .5] → (1/3 + 2/4)/2; q3 (work B) [A .2, A .3, A .4, B .7] → 1/4;
    # q4 [A .3, A .6, B .7, A .9] → 1/3
    ap = [(1 + 2 / 3) / 2, (1 + 2 / 3) / 2, (1 / 3 + 2 / 4) / 2, 1 / 4, 1 / 3]
    assert scores.map == pytest.approx(np.mean(ap))
    assert scores.mr1 == pytest.approx(np.mean([1, 1, 3, 4, 3]))
    assert scores.top1 == pytest.approx(2 / 5)
    assert scores.p_at_10 == pytest.approx(np.mean([1, 1, 0, 0, 0]) / 2)  # k=2 here
    assert scores.n_queries == 5
    assert scores.recall_at_100 == 1.0 and retrieval_scores(D, labels, depth=1).recall_at_100 == pytest.approx(
        np.mean([1 / 2, 1 / 2, 0, 0, 0])
    )


def test_map_by_kind_leaves_out_the_other_kinds_of_the_work():
    from homage.evaluation.metrics import map_by_kind

    # work A: original (0), melody (1), draft (2); work B: original (3), melody (4)
    labels = np.array(["A", "A", "A", "B", "B"])
    kinds = np.array(["original", "melody", "draft", "original", "melody"])
    D = np.array(
        [
            [0.0, 0.5, 0.1, 0.3, 0.6],
            [0.5, 0.0, 0.4, 0.2, 0.9],
            [0.1, 0.4, 0.0, 0.7, 0.8],
            [0.3, 0.2, 0.7, 0.0, 0.1],
            [0.6, 0.9, 0.8, 0.1, 0.0],
        ]
    )
    scores = map_by_kind(D, labels, kinds)
    # melody–original: q1 ranks {3 .2, 0 .5 (A), 4 .9} → 1/2; q0 ranks {3 .3, 1 .5 (A), 4 .6} → 1/2;
    # q3 ranks {4 .1 (B), 1 .2, 0 .3, 2 .7} → 1; q4 ranks {3 .1 (B), 0 .6, 2 .8, 1 .9} → 1
    assert scores["melody–original"] == (pytest.approx((1 / 2 + 1 / 2 + 1 + 1) / 4), 4)
    # draft–original: q2 sees {0 .1, 3 .7, 4 .8} → 1; q0 sees {2 .1, 3 .3, 4 .6} → 1; B has no draft
    assert scores["draft–original"] == (1.0, 2)
    assert scores["draft–melody"] == (pytest.approx((1 + 1 / 2) / 2), 2)  # q2 finds 1 first; q1 finds 2 second
    assert set(scores) == {"draft–melody", "draft–original", "melody–original"}  # no work has two of one kind


def test_perfect_and_constant_distances():
    labels = np.array([0, 0, 1, 1, 2, 2])
    perfect = (labels[:, None] != labels[None, :]).astype(float)
    assert retrieval_scores(perfect, labels).map == 1.0
    constant = np.zeros((6, 6))
    worst = retrieval_scores(constant, labels)
    assert worst.mr1 == 5 and worst.top1 == 0  # ties never favour the model


def test_queries_without_versions_are_left_out():
    labels = np.array([0, 0, 1])
    D = np.array([[0, 1, 2], [1, 0, 2], [2, 2, 0]], dtype=float)
    assert retrieval_scores(D, labels).n_queries == 2


# ---- the original project's pair protocol -------------------------------------------------------------
from homage.evaluation.metrics import best_threshold_accuracy, nn_accuracy, pair_scores, pair_set, roc_auc  # noqa: E402


def test_pair_set_is_half_versions_and_seeded():
    labels = np.array([0, 0, 0, 1, 1, 2, 3, 4])
    i, j, y = pair_set(labels, seed=3)
    assert y.sum() == 4 and (~y).sum() == 4  # 3 pairs in work 0, 1 in work 1; as many non-versions
    assert (labels[i[y]] == labels[j[y]]).all() and (labels[i[~y]] != labels[j[~y]]).all()
    assert (i < j).all()
    again = pair_set(labels, seed=3)
    assert all((a == b).all() for a, b in zip((i, j, y), again))


def test_pair_scores_by_hand():
    labels = np.array(["A", "A", "B", "B"])  # version pairs (0,1), (2,3); 4 non-version pairs, 2 drawn
    D = np.array([[0, 0.2, 0.9, 0.5], [0.2, 0, 0.7, 0.3], [0.9, 0.7, 0, 0.6], [0.5, 0.3, 0.6, 0]])
    i, j, y = pair_set(labels, seed=0)
    d = D[i, j]
    scores = pair_scores(D, labels, seed=0)
    assert scores.n_pairs == 4
    assert scores.mean_distance_versions == pytest.approx(0.4)  # (0.2 + 0.6) / 2
    assert scores.mean_distance_non_versions == pytest.approx(d[~y].mean())
    assert scores.threshold == pytest.approx(d.mean())
    pred = d < d.mean()
    assert scores.accuracy == pytest.approx((pred == y).mean())
    tp = (pred & y).sum()
    assert scores.precision == pytest.approx(tp / pred.sum())
    assert scores.recall == pytest.approx(tp / y.sum())
    assert scores.f1 == pytest.approx(2 * scores.precision * scores.recall / (scores.precision + scores.recall))
    assert 0 <= scores.random_baseline_accuracy <= 1


def test_roc_auc_and_best_threshold_by_hand():
    y = np.array([True, True, False, False])
    d = np.array([0.1, 0.5, 0.4, 0.9])  # one inversion out of four positive/negative pairs
    assert roc_auc(-d, y) == pytest.approx(3 / 4)
    assert best_threshold_accuracy(d, y) == pytest.approx(3 / 4)  # cut after 0.1: T F F F → 3 right
    tied = np.array([0.5, 0.5, 0.5, 0.5])
    assert roc_auc(-tied, y) == pytest.approx(0.5)
    assert best_threshold_accuracy(tied, y) == pytest.approx(0.5)  # no cut inside a tie


def test_nn_accuracy_by_hand():
    labels = np.array([0, 0, 1, 1])
    perfect = (labels[:, None] != labels[None, :]).astype(float)
    assert nn_accuracy(perfect, labels) == 1.0
    assert nn_accuracy(1 - perfect, labels) == 0.0
