import numpy as np
import pytest

from trainer.corpus import CorpusError, load_corpus


def test_text_is_lowercased_and_vocabulary_sorted(tiny_corpus):
    corpus = load_corpus(tiny_corpus, maxlen=12)
    assert corpus.text == tiny_corpus.read_text(encoding="utf-8").lower()
    assert corpus.vocabulary == sorted(set(corpus.text))
    decoded = "".join(corpus.vocabulary[i] for i in corpus.encoded)
    assert decoded == corpus.text


def test_held_out_split_is_the_contiguous_tail(tiny_corpus):
    corpus = load_corpus(tiny_corpus, maxlen=12, val_fraction=0.05)
    n = len(corpus.text)
    assert len(corpus.held_out) == int(n * 0.05)
    assert len(corpus.train) + len(corpus.held_out) == n
    assert np.array_equal(np.concatenate([corpus.train, corpus.held_out]), corpus.encoded)
    assert corpus.split == n - int(n * 0.05)


def test_zero_validation_fraction_trains_on_everything(tiny_corpus):
    corpus = load_corpus(tiny_corpus, maxlen=12, val_fraction=0)
    assert len(corpus.held_out) == 0 and len(corpus.train) == len(corpus.text)


def test_seed_passages_come_from_held_out_text(tiny_corpus):
    corpus = load_corpus(tiny_corpus, maxlen=12, val_fraction=0.2)
    passages = corpus.seed_passages(12, seed=1)
    held_out = corpus.text[corpus.split :]
    assert passages and all(6 <= len(p) <= 12 and p in held_out for p in passages)
    assert passages == corpus.seed_passages(12, seed=1)


@pytest.mark.corpus
def test_seed_passages_are_hundreds_of_whole_words(real_corpus):
    corpus = load_corpus(real_corpus, maxlen=60)
    passages = corpus.seed_passages(60, seed=1337)
    held_out = corpus.text[corpus.split :]
    assert len(passages) == 300 and len(set(passages)) == 300
    for passage in passages:
        start = held_out.index(passage)
        end = start + len(passage)
        assert 30 <= len(passage) <= 60
        assert start == 0 or held_out[start - 1].isspace()  # starts at a word (or sentence) start
        assert end == len(held_out) or held_out[end].isspace()  # ends at a word's end
    sentence_starts = sum(held_out[held_out.index(p) - 2] in ".!?:;" for p in passages)
    assert sentence_starts > 150  # mostly whole sentences' beginnings


def test_non_utf8_corpus_names_the_byte(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("abc\nnaïve".encode("latin-1") * 50)
    with pytest.raises(CorpusError, match=r"not UTF-8: byte 0xef at offset 6 \(line 2\)"):
        load_corpus(path, maxlen=12)


@pytest.mark.parametrize("content", ["", "short text"])
def test_corpus_shorter_than_a_window_is_refused(tmp_path, content):
    path = tmp_path / "short.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match="maxlen"):
        load_corpus(path, maxlen=60)


def test_missing_corpus_and_folder(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope.txt", maxlen=12)
    with pytest.raises(CorpusError, match=r"holds no \.txt files"):
        load_corpus(tmp_path, maxlen=12)


@pytest.mark.corpus
def test_real_corpus_matches_the_book(real_corpus):
    corpus = load_corpus(real_corpus, maxlen=60, val_fraction=0)
    assert len(corpus.text) == 600_893
    assert len(corpus.vocabulary) == 57
    assert corpus.sha256 == "23cf69874ab69d3d256099ab530ea4be24d47d9675b673bcc67cbcd6298ec647"


def test_a_byte_order_mark_at_the_start_is_not_text(tmp_path):
    from nietzsche_tui.contracts.corpus import read_text

    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffthe free spirit".encode())
    assert read_text(path) == "the free spirit"
