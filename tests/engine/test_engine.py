"""The NumPy engine computes what Keras computes, batched and reproducibly."""

import itertools
import subprocess
import sys

import numpy as np
import pytest

from nietzsche_tui.engine.generation import Engine, GenerationRequest
from nietzsche_tui.engine.prompts import PromptError, encode_prompt


@pytest.fixture(scope="module")
def engine_and_model(keras_checkpoint):
    folder, model = keras_checkpoint
    return Engine.load(folder), model


def one_hot(indices, vocab_size):
    return np.eye(vocab_size, dtype=np.float32)[indices]


def keras_probabilities(model, windows, vocab_size):
    return np.asarray(model(one_hot(np.atleast_2d(windows), vocab_size), training=False), dtype=np.float64)


def test_window_distributions_match_keras_on_random_windows(engine_and_model):
    engine, model = engine_and_model
    v = len(engine.vocabulary)
    windows = np.random.default_rng(0).integers(0, v, size=(64, 60))
    ours = engine.window_probabilities(windows)
    theirs = keras_probabilities(model, windows, v)
    assert np.abs(ours - theirs).max() < 1e-5
    assert ours.max() > 0.4  # peaked distributions: the comparison is not between near-uniform vectors


def test_greedy_text_matches_a_keras_window_loop(engine_and_model):
    engine, model = engine_and_model
    prompt = "supposing that truth is a woman--what then? is there not gro"
    generated = "".join(step.chars[0] for step in engine.generate(GenerationRequest(prompt, (0.0,), length=400)))
    # The book's loop (listing 8-7) at temperature 0, teacher-forced: every window the loop would
    # feed Keras (the prompt plus the text so far, last 60 characters) goes through Keras in one
    # batch. If Keras's argmax after every window is the next character, the loop's text is ours,
    # by induction over the steps.
    text = encode_prompt(prompt + generated, engine.vocabulary).indices
    windows = np.stack([text[i : i + 60] for i in range(len(generated))])
    probabilities = keras_probabilities(model, windows, len(engine.vocabulary))
    expected = "".join(engine.vocabulary[i] for i in probabilities.argmax(axis=1))
    assert generated == expected


def test_sampled_text_has_the_probabilities_keras_gives_every_step(engine_and_model):
    engine, model = engine_and_model
    prompt = "supposing that truth is a woman--what then? is there not gro"
    steps = list(engine.generate(GenerationRequest(prompt, (1.0,), length=300, seed=9)))
    generated = "".join(step.chars[0] for step in steps)
    assert len(set(generated)) > 5  # a varied text: many different windows
    text = encode_prompt(prompt + generated, engine.vocabulary).indices
    windows = np.stack([text[i : i + 60] for i in range(len(generated))])
    theirs = keras_probabilities(model, windows, len(engine.vocabulary))
    chosen = text[60:]
    expected = theirs[np.arange(len(chosen)), chosen]
    assert np.abs(np.array([s.probabilities[0] for s in steps]) - expected).max() < 1e-5


def test_stateful_steps_match_keras_over_the_whole_sequence(engine_and_model):
    import keras

    engine, model = engine_and_model
    prompt = "the terrible seriousness and clumsy importunity with which they"
    steps = list(engine.generate(GenerationRequest(prompt, (1.0,), length=50, seed=4, mode="stateful")))
    window_first = next(iter(engine.generate(GenerationRequest(prompt[-60:], (1.0,), length=1, seed=4))))
    sequence = encode_prompt(prompt + "".join(s.chars[0] for s in steps), engine.vocabulary).indices
    # The same weights in a sequence model read the whole text from a zero state, as stateful mode does.
    full = keras.Sequential(
        [
            keras.Input((None, len(engine.vocabulary))),
            keras.layers.LSTM(128, return_sequences=True),
            keras.layers.Dense(len(engine.vocabulary), activation="softmax"),
        ]
    )
    full.set_weights(model.get_weights())
    outputs = np.asarray(full(one_hot(sequence[None, :], len(engine.vocabulary))))[0]
    for i, step in enumerate(steps):
        chosen = sequence[len(prompt) + i]
        assert step.probabilities[0] == pytest.approx(outputs[len(prompt) - 1 + i, chosen], abs=1e-5)
    # The first stateful step reads the same 60 characters as the first window step (window mode
    # multiplies them in a larger matrix product: equal up to float32 rounding).
    short = "".join(prompt[-60:])
    first = next(iter(engine.generate(GenerationRequest(short, (1.0,), length=1, seed=4, mode="stateful"))))
    assert first.chars == window_first.chars
    assert first.probabilities == pytest.approx(window_first.probabilities, abs=1e-6)


def test_short_prompts_read_only_their_characters(engine_and_model):
    import keras

    engine, model = engine_and_model
    short = "truth is"
    probabilities = engine.window_probabilities(encode_prompt(short, engine.vocabulary).indices)
    variable = keras.Sequential(
        [
            keras.Input((None, len(engine.vocabulary))),
            keras.layers.LSTM(128),
            keras.layers.Dense(len(engine.vocabulary), activation="softmax"),
        ]
    )
    variable.set_weights(model.get_weights())
    expected = keras_probabilities(variable, encode_prompt(short, engine.vocabulary).indices, len(engine.vocabulary))
    assert np.abs(probabilities - expected).max() < 1e-5


def test_long_prompts_use_their_last_maxlen_characters_in_window_mode(engine_and_model):
    engine, _ = engine_and_model
    tail = "is there not ground for suspecting that all philosophers, in"
    long = "and so on " * 500 + tail
    a = [s.chars for s in engine.generate(GenerationRequest(long, length=30, seed=9))]
    b = [s.chars for s in engine.generate(GenerationRequest(tail, length=30, seed=9))]
    assert a == b


def test_same_seed_same_text_however_consumed(engine_and_model):
    engine, _ = engine_and_model
    request = GenerationRequest("what then? is there", length=120, seed=42)
    whole = [s.chars for s in engine.generate(request)]
    generation = engine.generate(request)
    pieces = list(itertools.islice(generation, 7)) + list(generation)
    assert [s.chars for s in pieces] == whole
    other = [s.chars for s in engine.generate(GenerationRequest("what then? is there", length=120, seed=43))]
    assert other != whole
    # Columns draw from their own streams: two columns at one temperature differ.
    twins = [s.chars for s in engine.generate(GenerationRequest("what then?", (1.0, 1.0), length=60, seed=1))]
    assert [c[0] for c in twins] != [c[1] for c in twins]


def test_one_batched_pass_serves_every_column(engine_and_model, monkeypatch):
    """Window mode steps the network once per character read, every column's runs in one pass:
    the first window's run gives the first character; on the next, the runs of the prompt's later
    windows start (one step per prompt character, runs 1..p reading character p), then each
    generated character is one step of every run in flight (four columns each)."""
    engine, _ = engine_and_model
    (layer,) = engine.network.layers
    calls = []
    original = layer.recur

    def counting(x, state, axis):
        groups, _, rows, runs = state[0].shape  # the pipeline keeps its runs as columns
        calls.append((groups, runs, rows))
        return original(x, state, axis)

    monkeypatch.setattr(layer, "recur", counting)
    list(engine.generate(GenerationRequest("what then?", length=10, seed=1)))
    # (one model, runs, four columns): priming the prompt's runs, then one pass per character
    assert calls == [(1, p, 4) for p in range(1, 10)] + [(1, n, 4) for n in range(11, 20)]


def test_steps_report_the_models_probability_of_each_character(engine_and_model):
    engine, model = engine_and_model
    prompt = "supposing that truth is a woman--what then? is there not gro"
    step = next(iter(engine.generate(GenerationRequest(prompt, length=1, seed=3))))
    expected = keras_probabilities(model, encode_prompt(prompt, engine.vocabulary).indices, len(engine.vocabulary))[0]
    for char, probability in zip(step.chars, step.probabilities, strict=True):
        assert probability == pytest.approx(expected[engine.vocabulary.index(char)], abs=1e-6)


def test_prompts_are_lowercased_and_unknown_characters_reported(engine_and_model):
    engine, _ = engine_and_model
    prompt = encode_prompt("Hello, Wörld 🎉!", engine.vocabulary)
    assert "ö" not in engine.vocabulary
    assert prompt.text == "hello, wrld !"
    assert "🎉" in prompt.dropped and all(c not in engine.vocabulary for c in prompt.dropped)
    assert set(prompt.text) <= set(engine.vocabulary)


@pytest.mark.parametrize("text", ["", "🎉🎉", "\x00\ud800"])
def test_empty_prompts_are_clear_errors(engine_and_model, text):
    engine, _ = engine_and_model
    with pytest.raises(PromptError):
        engine.generate(GenerationRequest(text))


def test_surprise_prompt_comes_from_the_checkpoint(engine_and_model):
    engine, _ = engine_and_model
    assert engine.surprise_prompt(np.random.default_rng(0)) in engine.checkpoint.metadata.seed_passages


@pytest.mark.parametrize(
    "kwargs", [{"temperatures": (-1.0,)}, {"length": -1}, {"mode": "beam"}, {"top_k": 0}, {"top_p": 1.5}, {"seed": -2}]
)
def test_bad_requests_are_value_errors(kwargs):
    with pytest.raises(ValueError):
        GenerationRequest("x", **kwargs)


def test_loading_and_generating_never_imports_tensorflow(keras_checkpoint):
    folder, _ = keras_checkpoint
    # NumPy imports the pickle module itself; what must never happen is an unpickling, so every
    # way in raises here.
    code = (
        "import sys, pickle\n"
        "def refuse(*args, **kwargs):\n"
        "    raise AssertionError('something was unpickled')\n"
        "pickle.load = pickle.loads = pickle.Unpickler = refuse\n"
        "from nietzsche_tui.engine.generation import Engine, GenerationRequest\n"
        "import nietzsche_tui.cli.main\n"
        f"engine = Engine.load({str(folder)!r})\n"
        "list(engine.generate(GenerationRequest('truth is', length=5)))\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\n"
        "print(bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = eval(result.stdout.strip())
    assert loaded == []  # no TensorFlow, no Keras (and nothing unpickled, or the script had failed)
