"""Training on your own text: keeping its case, and a folder of files as one corpus."""

import pytest

from nietzsche_tui.engine.analysis import score_text
from nietzsche_tui.engine.generation import Engine, GenerationRequest
from nietzsche_tui.engine.prompts import encode_prompt
from tests.conftest import TINY_TEXT, tiny_config
from trainer.corpus import CorpusError, load_corpus
from trainer.train import TrainingError, train


def test_keep_case_trains_capitals_and_the_engine_keeps_the_prompts_case(tiny_corpus, tmp_path):
    train(tiny_config(tiny_corpus, tmp_path, epochs=1, sample_length=20, keep_case=True))
    engine = Engine.load(tmp_path)
    assert {"T", "S", "I"} <= set(engine.vocabulary) and not engine.lowercase
    assert engine.checkpoint.metadata.corpus["lowercased"] is False
    assert engine.checkpoint.metadata.training["keep_case"] is True
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
    assert Engine.load(tmp_path / "out").checkpoint.metadata.corpus["source"] == "texts"


def test_held_out_batches_stay_small_for_large_vocabularies():
    from trainer.train import HELD_OUT_BATCH_BYTES, held_out_batch_size

    assert held_out_batch_size(60, 57) == 1024  # the book's: unchanged
    batch = held_out_batch_size(60, 3001)
    assert batch * 60 * 3001 * 4 <= HELD_OUT_BATCH_BYTES and batch >= 64
    assert held_out_batch_size(10_000, 100_000) == 1


def test_several_corpus_files_join_in_the_order_given(tmp_path):
    (tmp_path / "z.txt").write_text("Zarathustra spoke. " * 30, encoding="utf-8")
    (tmp_path / "a.txt").write_text("And then. " * 30, encoding="utf-8")
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "m.txt").write_text("Middle. " * 30, encoding="utf-8")
    corpus = load_corpus([tmp_path / "z.txt", tmp_path / "a.txt", folder], maxlen=12, val_fraction=0, keep_case=True)
    assert corpus.text == "\n\n".join(["Zarathustra spoke. " * 30, "And then. " * 30, "Middle. " * 30])
    assert corpus.name == "z.txt + a.txt + more"
    (tmp_path / "bad.txt").write_bytes(b"fine until \xff here")
    with pytest.raises(CorpusError, match=r"bad\.txt is not UTF-8: byte 0xff at offset 11"):
        load_corpus([tmp_path / "a.txt", tmp_path / "bad.txt"], maxlen=12)


@pytest.mark.slow  # 7 s: its parts (keep-case, resume, GRU stacks) each have a fast test; this is them together
def test_a_two_layer_gru_on_mixed_case_files_trains_resumes_and_keeps_case(tmp_path):
    """The issue's user: their own mixed-case text in two files, a 2-layer GRU, resumed once."""
    from nietzsche_tui.contracts.checkpoint import Architecture
    from tests.conftest import tiny_train_args
    from trainer.cli import main as train_main

    half = len(TINY_TEXT) // 2
    (tmp_path / "one.txt").write_text(TINY_TEXT[:half], encoding="utf-8")
    (tmp_path / "two.txt").write_text(TINY_TEXT[half:], encoding="utf-8")
    args = tiny_train_args(tmp_path / "one.txt", tmp_path / "out", epochs=1)
    corpus_at = args.index("--corpus")
    args[corpus_at + 1 : corpus_at + 2] = [str(tmp_path / "one.txt"), str(tmp_path / "two.txt")]
    args += ["--keep-case", "--cell", "gru", "--layers", "2", "--dropout", "0.1", "--recipe", "fast"]
    args += ["--sequence-length", "30"]
    assert train_main(args) == 0
    epochs = args.index("--epochs")
    args[epochs + 1] = "2"
    assert train_main(args) == 0  # the same command resumes
    engine = Engine.load(tmp_path / "out")
    checkpoint = engine.checkpoint
    assert checkpoint.epoch == 2 and checkpoint.architecture == Architecture("gru", 2, 16, 0.1)
    assert checkpoint.metadata.corpus["source"] == "one.txt + two.txt"
    assert checkpoint.metadata.training["corpus"] == [str(tmp_path / "one.txt"), str(tmp_path / "two.txt")]
    assert not engine.lowercase and engine.prepare_prompt("Truth is").text == "Truth is"
    assert len(list(engine.generate(GenerationRequest("Truth is", (1.0,), length=20, seed=1)))) == 20
