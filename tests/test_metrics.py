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
