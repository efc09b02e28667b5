"""The one sampler: the book's reweighting, made stable, never raising on what a softmax produces."""

import numpy as np
import pytest

from nietzsche_tui.engine.sampling import reweight_distribution, sample_index, sample_rows


def book_reweight(p, temperature):
    """Listing 8-1, in float64."""
    distribution = np.exp(np.log(np.asarray(p, dtype=np.float64)) / temperature)
    return distribution / distribution.sum()


@pytest.mark.parametrize("temperature", [0.2, 0.5, 1.0, 1.2, 3.0])
def test_reweighting_has_the_books_meaning(temperature):
    p = np.random.default_rng(0).dirichlet(np.ones(57))
    assert np.allclose(reweight_distribution(p, temperature), book_reweight(p, temperature), atol=1e-12)


def test_temperature_zero_is_greedy_and_still_consumes_one_draw():
    p = np.array([0.1, 0.6, 0.3])
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    assert all(sample_index(p, 0, a) == 1 for _ in range(20))
    for _ in range(20):
        b.random()
    assert a.random() == b.random()


@pytest.mark.parametrize("temperature", [-0.1, float("nan"), float("inf"), -float("inf")])
def test_bad_temperatures_are_value_errors(temperature):
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        sample_index(np.array([0.5, 0.5]), temperature, np.random.default_rng(0))


def test_float32_vectors_summing_above_one_never_crash():
    """The book's sampler fails on about 3% of float32 softmaxes (numpy/numpy#8317)."""
    rng = np.random.default_rng(0)
    crashed_book = 0
    for _ in range(2000):
        logits = rng.normal(0, 3, 57).astype(np.float32)
        p = np.exp(logits) / np.exp(logits).sum()
        p = p.astype(np.float32)
        try:
            np.random.multinomial(1, p, 1)  # noqa: NPY002 - the book's legacy call, on purpose
        except ValueError:
            crashed_book += 1
        index = sample_index(p, 1.0, rng)
        assert 0 <= index < 57 and p[index] > 0
    assert crashed_book > 0  # the inputs really do exercise the bug


def test_zero_probabilities_are_never_drawn():
    p = np.zeros(10)
    p[[2, 7]] = [0.25, 0.75]
    rng = np.random.default_rng(1)
    draws = {sample_index(p, t, rng) for t in (0.1, 1.0, 100.0) for _ in range(300)}
    assert draws == {2, 7}


def test_degenerate_inputs_still_give_a_valid_index():
    rng = np.random.default_rng(2)
    for p in (np.zeros(5), np.full(5, np.nan), np.array([0, 0, 1.0, 0, 0]), np.full(5, 1e-45)):
        assert 0 <= sample_index(p, 1.0, rng) < 5


def test_draws_follow_the_reweighted_distribution():
    p = np.array([0.5, 0.3, 0.2])
    rng = np.random.default_rng(3)
    counts = np.bincount([sample_index(p, 0.5, rng) for _ in range(20000)], minlength=3) / 20000
    assert np.allclose(counts, book_reweight(p, 0.5), atol=0.015)


def test_top_k_and_top_p_truncate():
    p = np.array([0.05, 0.5, 0.3, 0.15])
    assert np.count_nonzero(reweight_distribution(p, 1.0, top_k=2)) == 2
    assert set(np.flatnonzero(reweight_distribution(p, 1.0, top_k=2))) == {1, 2}
    assert set(np.flatnonzero(reweight_distribution(p, 1.0, top_p=0.8))) == {1, 2}
    assert set(np.flatnonzero(reweight_distribution(p, 1.0, top_p=0.81))) == {1, 2, 3}
    assert np.isclose(reweight_distribution(p, 1.0, top_p=0.81).sum(), 1.0)
    with pytest.raises(ValueError):
        reweight_distribution(p, 1.0, top_p=0)
    with pytest.raises(ValueError):
        reweight_distribution(p, 1.0, top_k=0)


def test_top_k_keeps_exactly_k_even_with_ties():
    from nietzsche_tui.engine.sampling import reweight_distribution

    tied = np.array([0.25, 0.25, 0.25, 0.25])
    kept = reweight_distribution(tied, 1.0, top_k=2)
    assert np.count_nonzero(kept) == 2 and kept[:2].tolist() == [0.5, 0.5]


def test_the_gru_gates_do_not_overflow_with_large_weights():
    import warnings

    from nietzsche_tui.contracts.checkpoint import Architecture, CheckpointMetadata
    from nietzsche_tui.engine.generation import Engine
    from tests.checkpoints import random_weights

    vocabulary = list("abcdefgh")
    weights = random_weights(len(vocabulary), 8, seed=3, scale=400.0, cell="gru")
    engine = Engine(CheckpointMetadata(1, vocabulary, 12, Architecture("gru", 1, 8)), weights)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in np.exp is a RuntimeWarning
        probabilities = engine.window_probabilities(np.arange(8)[None, :] % len(vocabulary))
    assert np.isfinite(probabilities).all()


def test_sampling_every_row_at_once_draws_what_each_row_alone_draws():
    """``sample_rows`` (generation's sampler) picks exactly ``sample_index``'s character, row by
    row, with each row's stream left in the same state: the same seed keeps giving the same text."""
    rng = np.random.default_rng(3)
    temperatures = (0.0, 1e-9, 0.2, 0.5, 1.0, 1.2, 3.0)
    together = [np.random.default_rng(s) for s in range(len(temperatures))]
    alone = [np.random.default_rng(s) for s in range(len(temperatures))]
    for trial in range(400):
        logits = rng.normal(0, rng.choice([0.5, 3.0, 30.0]), size=(len(temperatures), 57))
        rows = np.exp(logits - logits.max(axis=1, keepdims=True)).astype(np.float32)
        rows /= rows.sum(axis=1, keepdims=True)
        if trial % 7 == 0:
            rows[:, rng.integers(0, 57, 20)] = 0.0  # zeros: the step back past empty entries
        if trial % 50 == 0:
            rows[1] = 0.0  # nothing usable: uniform
            rows[2, 5] = np.nan
        picked = sample_rows(rows, temperatures, together)
        expected = [sample_index(row, t, s) for row, t, s in zip(rows, temperatures, alone, strict=True)]
        assert picked.tolist() == expected
    assert [s.random() for s in together] == [s.random() for s in alone]
    # Truncated sampling goes row by row, the same way.
    picked = sample_rows(rows, temperatures, together, top_k=3, top_p=0.9)
    assert picked.tolist() == [sample_index(r, t, s, 3, 0.9) for r, t, s in zip(rows, temperatures, alone, strict=True)]
