"""Property-based tests: arbitrary Unicode into the prompt handling and the engine, and every
temperature and degenerate distribution into the sampler. Nothing raises except the documented
PromptError / ValueError, and every generated character is in the vocabulary."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nietzsche_tui.engine.generation import Engine, GenerationRequest
from nietzsche_tui.engine.prompts import PromptError, describe_characters, encode_prompt
from nietzsche_tui.engine.sampling import sample_index
from tests.helpers import examples

# Everything Unicode allows in a Python str, lone surrogates and control characters included.
ANY_TEXT = st.text(alphabet=st.characters(codec=None, categories=None), max_size=300)
HOSTILE = st.sampled_from(
    [
        "\u202eevil right-to-left override\u202c",
        "e\u0301\u0301\u0301 combining",
        "👩‍👩‍👧 family emoji",
        "\ud800 lone surrogate",
        "\x00\x1b[31m escape codes \x07",
        "שלום עולם",
        "[bold red]markup[/]",
        "\t\n\r",
    ]
)


@pytest.fixture(scope="module")
def engine(app_model):
    return Engine.load(app_model)


@settings(max_examples=examples(1000), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(ANY_TEXT, HOSTILE, st.lists(HOSTILE).map("".join)))
def test_prompt_encoding_never_raises_and_keeps_only_vocabulary(engine, text):
    prompt = encode_prompt(text, engine.vocabulary)
    assert set(prompt.text) <= set(engine.vocabulary)
    assert all(c not in engine.vocabulary for c in prompt.dropped)
    assert len(prompt.indices) == len(prompt.text)
    description = describe_characters(list(prompt.dropped))
    description.encode("utf-8")  # always printable, even for lone surrogates


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.one_of(ANY_TEXT, HOSTILE),
    mode=st.sampled_from(["window", "stateful"]),
    temperature=st.floats(0, 100),
    seed=st.integers(0, 2**32),
)
def test_generation_from_any_prompt_stays_in_the_vocabulary(engine, text, mode, temperature, seed):
    try:
        generation = engine.generate(GenerationRequest(text, (temperature, 1.0), length=12, seed=seed, mode=mode))
    except PromptError:
        assert not encode_prompt(text, engine.vocabulary).text.strip()  # refused only when blank
        return
    for step in generation:
        assert all(c in engine.vocabulary for c in step.chars)
        assert all(0 <= p <= 1 for p in step.probabilities)


def test_a_megabyte_prompt(engine):
    text = ("Is there not ground for suspecting 🎉 \u202e" * 30_000)[:1_000_000]
    steps = list(engine.generate(GenerationRequest(text, length=5, seed=1)))
    assert len(steps) == 5 and all(c in engine.vocabulary for s in steps for c in s.chars)


DISTRIBUTIONS = st.one_of(
    st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=80).map(np.array),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=80).map(np.array),
    st.integers(1, 80).map(lambda n: np.full(n, 1.0 / n)),  # uniform
    st.integers(1, 80).map(np.zeros),  # all zeros
    st.tuples(st.integers(1, 80), st.integers(0, 79)).map(lambda t: np.eye(t[0])[min(t[1], t[0] - 1)]),  # one-hot
    st.lists(st.floats(-30, 30), min_size=2, max_size=80).map(  # float32 softmax, sums can exceed 1
        lambda logits: (np.exp(logits) / np.exp(logits).sum()).astype(np.float32)
    ),
)


@settings(max_examples=examples(5000), deadline=None)
@given(
    p=DISTRIBUTIONS,
    temperature=st.floats(0, 100),
    seed=st.integers(0, 2**32),
    top_k=st.one_of(st.none(), st.integers(1, 100)),
    top_p=st.one_of(st.none(), st.floats(0.001, 1.0)),
)
def test_the_sampler_always_returns_a_valid_index(p, temperature, seed, top_k, top_p):
    index = sample_index(p, temperature, np.random.default_rng(seed), top_k, top_p)
    assert 0 <= index < p.size
    usable = np.where(np.isfinite(p) & (p > 0), p, 0)
    if usable.sum() > 0:
        assert usable[index] > 0  # never a character the model gave no probability
