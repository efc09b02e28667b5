"""The input pipeline must feed the model exactly what the book's vectorisation (listing 8-3) does."""

import numpy as np

from trainer.corpus import load_corpus
from trainer.data import SequenceBatches, WindowBatches
from trainer.model import build_model


def book_vectorisation(text, chars, maxlen, step):
    """Listing 8-3, with the np.bool and shadowing bugs fixed."""
    char_indices = {char: chars.index(char) for char in chars}
    sentences, next_chars = [], []
    for i in range(0, len(text) - maxlen, step):
        sentences.append(text[i : i + maxlen])
        next_chars.append(text[i + maxlen])
    x = np.zeros((len(sentences), maxlen, len(chars)), dtype=bool)
    y = np.zeros((len(sentences), len(chars)), dtype=bool)
    for i, sentence in enumerate(sentences):
        for t, char in enumerate(sentence):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[next_chars[i]]] = 1
    return x, y


def test_window_batches_equal_the_books_arrays(tiny_corpus):
    corpus = load_corpus(tiny_corpus, maxlen=20, val_fraction=0)
    x, y = book_vectorisation(corpus.text, corpus.vocabulary, 20, 3)
    batches = WindowBatches(corpus.encoded, len(corpus.vocabulary), 20, 3, batch_size=50, shuffle=False)
    assert batches.windows == len(x)
    xs, ys = zip(*(batches[i] for i in range(len(batches))), strict=True)
    assert np.array_equal(np.concatenate(xs), x.astype(np.float32))
    assert np.array_equal(np.concatenate(ys), y.argmax(axis=1))


def test_shuffling_is_a_permutation_that_depends_on_the_epoch(tiny_corpus):
    corpus = load_corpus(tiny_corpus, maxlen=20, val_fraction=0)
    batches = WindowBatches(corpus.encoded, len(corpus.vocabulary), 20, 3, batch_size=50, seed=3)
    first = batches.offsets.copy()
    batches.on_epoch_end()
    assert sorted(first) == sorted(batches.offsets) and not np.array_equal(first, batches.offsets)
    batches.set_epoch(0)
    assert np.array_equal(first, batches.offsets)


def test_sequence_batches_predict_every_next_character(tiny_corpus):
    corpus = load_corpus(tiny_corpus, maxlen=20, val_fraction=0)
    batches = SequenceBatches(corpus.encoded, len(corpus.vocabulary), 40, batch_size=8, seed=1)
    x, y = batches[0]
    assert x.shape == (8, 40, len(corpus.vocabulary)) and y.shape == (8, 40)
    assert np.array_equal(x.argmax(-1)[:, 1:], y[:, :-1])  # targets are the inputs shifted by one
    lengths = {len(batches.offsets)}
    for _ in range(5):
        batches.on_epoch_end()
        lengths.add(len(batches.offsets))
    assert lengths == {batches.count}


def test_book_model_has_the_books_parameter_count():
    assert build_model(57, 60).count_params() == 102_585
    assert build_model(57, 200, every_position=True).count_params() == 102_585
