"""Training on your own text: keeping its case, and a folder of files as one corpus."""

import pytest

from nietzsche_tui.analysis import score_text
from nietzsche_tui.engine import Engine, GenerationRequest, encode_prompt
from tests.conftest import TINY_TEXT, tiny_config
from trainer.corpus import CorpusError, load_corpus
from trainer.train import TrainingError, train


def test_keep_case_trains_capitals_and_the_engine_keeps_the_prompts_case(tiny_corpus, tmp_path):
    train(tiny_config(tiny_corpus, tmp_path, epochs=1, sample_length=20, keep_case=True))
    engine = Engine.load(tmp_path)
    assert {"T", "S", "I"} <= set(engine.vocabulary) and not engine.lowercase
    assert engine.checkpoint.metadata["corpus"]["lowercased"] is False
    assert engine.checkpoint.metadata["training"]["keep_case"] is True
    prompt = engine.prepare_prompt("Truth is")
    assert prompt.text == "Truth is"
    assert encode_prompt("TRUTH", engine.vocabulary, lowercase=True).text == "truth"  # what a lowercasing model reads
    steps = list(engine.generate(GenerationRequest("Truth is", (1.0,), length=30, seed=1)))
    assert all(step.chars[0] in engine.vocabulary for step in steps)
    assert len(score_text(engine, "Supposing that Truth").bits) == len("Supposing that Truth") - 1


def test_the_default_still_lowercases_like_the_book(trained_folder):
    engine = Engine.load(trained_folder)
    assert engine.lowercase and not any(char.isupper() for char in engine.vocabulary)
    assert engine.prepare_prompt("TRUTH").text == "truth"


def test_resume_refuses_a_changed_keep_case(trained_folder, tiny_corpus):
    with pytest.raises(TrainingError, match="--keep-case"):
        train(tiny_config(tiny_corpus, trained_folder, epochs=3, keep_case=True))


def test_a_folder_of_text_files_is_one_corpus_in_name_order(tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "b.txt").write_text("Second book. " * 40, encoding="utf-8")
    (folder / "a.txt").write_text("First book. " * 40, encoding="utf-8")
    (folder / "notes.md").write_text("ignored", encoding="utf-8")
    corpus = load_corpus(folder, maxlen=12, val_fraction=0, keep_case=True)
    assert corpus.text == "First book. " * 40 + "\n\n" + "Second book. " * 40
    (folder / "c.txt").write_bytes("naïve".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"c\.txt is not UTF-8"):
        load_corpus(folder, maxlen=12)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError, match=r"no \.txt files"):
        load_corpus(empty, maxlen=12)


def test_the_trainer_cli_takes_a_folder(tmp_path):
    from tests.conftest import tiny_train_args
    from trainer.cli import main as train_main

    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "one.txt").write_text(TINY_TEXT, encoding="utf-8")
    assert train_main(tiny_train_args(folder, tmp_path / "out", epochs=1)) == 0
    assert Engine.load(tmp_path / "out").checkpoint.metadata["corpus"]["source"] == "texts"


def test_held_out_batches_stay_small_for_large_vocabularies():
    from trainer.train import HELD_OUT_BATCH_BYTES, held_out_batch_size

    assert held_out_batch_size(60, 57) == 1024  # the book's: unchanged
    batch = held_out_batch_size(60, 3001)
    assert batch * 60 * 3001 * 4 <= HELD_OUT_BATCH_BYTES and batch >= 64
    assert held_out_batch_size(10_000, 100_000) == 1
