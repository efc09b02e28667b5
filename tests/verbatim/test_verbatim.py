"""Copied spans: the index finds what a brute-force search finds, at the right lines; the training
text is found through the checkpoint and refused when its sha256 differs; the command prints it."""

from __future__ import annotations

import json
import lzma

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nietzsche_tui.cli.main import main
from nietzsche_tui.contracts.checkpoint import CheckpointMetadata
from nietzsche_tui.contracts.corpus import corpus_sha256
from nietzsche_tui.verbatim.index import VerbatimIndex, open_index
from nietzsche_tui.verbatim.source import (
    BUNDLED_CORPUS,
    BUNDLED_CORPUS_SHA256,
    TrainingTextError,
    find_training_text,
)
from tests.checkpoints import random_weights, write_checkpoint
from tests.helpers import examples

CORPUS = (
    "the first line of the fixture corpus\n"
    "here the second line says something memorable\n"
    "and the third line ends the little book.\n"
)


def brute_force_longest(query: str, text: str, at: int) -> int:
    best = 0
    for length in range(1, len(query) - at + 1):
        if query[at : at + length] in text:
            best = length
        else:
            break
    return best


def test_spans_are_found_at_their_lines_and_extended_as_far_as_they_go():
    index = VerbatimIndex.build(CORPUS, min_span=10)
    query = "I wrote: here the second line says something new, then the third line ends the little book."
    copying = index.copying(query)
    found = [(query[s.start : s.end], s.line) for s in copying.spans]
    assert found == [("here the second line says something ", 2), (" the third line ends the little book.", 3)]
    span = copying.spans[0]
    assert CORPUS[span.corpus_start : span.corpus_start + span.length] == query[span.start : span.end]
    assert copying.longest == len(" the third line ends the little book.")
    assert copying.covered == sum(s.length for s in copying.spans)
    assert index.copying("xyzzy: nothing written here appears in it").spans == ()
    assert index.copying("short").spans == ()


def test_the_spans_are_the_maximal_matches_a_brute_force_search_finds():
    @settings(max_examples=examples(400), deadline=None)
    @given(
        text=st.text(alphabet="ab c", min_size=1, max_size=80),
        query=st.text(alphabet="ab c", max_size=40),
        width=st.integers(1, 6),
    )
    def check(text, query, width):
        copying = VerbatimIndex.build(text, width).copying(query)
        longest = [brute_force_longest(query, text, i) for i in range(len(query))]
        reach, expected = 0, []
        for i, length in enumerate(longest):
            if length >= width and i + length > reach:
                expected.append((i, i + length))
                reach = i + length
        assert [(s.start, s.end) for s in copying.spans] == expected
        for span in copying.spans:
            assert text[span.corpus_start : span.corpus_start + span.length] == query[span.start : span.end]
            assert span.line == text[: span.corpus_start].count("\n") + 1

    check()


def test_the_index_is_built_once_and_a_damaged_cache_is_rebuilt(tmp_path):
    first = open_index(CORPUS, "key", 10, tmp_path)
    (stored,) = tmp_path.iterdir()
    written = stored.stat().st_mtime_ns
    again = open_index(CORPUS, "key", 10, tmp_path)
    assert stored.stat().st_mtime_ns == written  # read, not rebuilt
    assert again.copying(CORPUS[5:40]).spans == first.copying(CORPUS[5:40]).spans
    stored.write_bytes(b"not an index")
    assert open_index(CORPUS, "key", 10, tmp_path).copying(CORPUS[5:40]).spans == first.copying(CORPUS[5:40]).spans
    # A cached index of another text of the same key is not trusted.
    assert open_index(CORPUS + "more", "key", 10, tmp_path).copying(CORPUS[5:40]).longest == 35


def metadata(corpus: dict, lowercased: bool = True) -> CheckpointMetadata:
    return CheckpointMetadata(epoch=1, vocabulary=list("ab"), maxlen=4, corpus={**corpus, "lowercased": lowercased})


def test_the_training_text_is_found_through_its_recorded_path_and_refused_when_it_changed(tmp_path):
    source = tmp_path / "book.txt"
    source.write_text(CORPUS.upper(), encoding="utf-8")
    record = {"source": "book.txt", "paths": [str(source)], "sha256": corpus_sha256(CORPUS.upper())}
    found = find_training_text(metadata(record))
    assert found.text == CORPUS and found.origin == str(source)
    assert find_training_text(metadata(record, lowercased=False)).text == CORPUS.upper()
    source.write_text(CORPUS.upper() + "an edit", encoding="utf-8")
    with pytest.raises(TrainingTextError, match="changed since this model was trained on it"):
        find_training_text(metadata(record))
    other = tmp_path / "other.txt"
    other.write_text("another text", encoding="utf-8")
    with pytest.raises(TrainingTextError, match="is not the text this model was trained on"):
        find_training_text(metadata(record), str(other))
    source.unlink()
    with pytest.raises(TrainingTextError, match="is not on this machine; pass it with --corpus"):
        find_training_text(metadata(record))


def test_the_bundled_models_find_the_bundled_copy_of_their_text():
    assert corpus_sha256(lzma.decompress(BUNDLED_CORPUS.read_bytes()).decode("utf-8")) == BUNDLED_CORPUS_SHA256
    record = {"source": "nietzsche.txt", "sha256": BUNDLED_CORPUS_SHA256, "paths": ["/nowhere/nietzsche.txt"]}
    found = find_training_text(metadata(record))
    assert found.origin == "the copy bundled with nietzsche-tui" and found.text.startswith("preface\n\n\nsupposing")


@pytest.fixture
def fixture_model(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    vocabulary = sorted(set(CORPUS))
    record = {"source": "corpus.txt", "paths": [str(corpus)], "sha256": corpus_sha256(CORPUS)}
    write_checkpoint(
        tmp_path / "run", random_weights(len(vocabulary), 8, seed=1), vocabulary, epoch=1, maxlen=10, corpus=record
    )
    return tmp_path / "run", corpus


def test_the_verbatim_command_prints_each_span_with_its_line(fixture_model, tmp_path, capsys):
    folder, corpus = fixture_model
    text = tmp_path / "text.txt"
    text.write_text("He said: And The Third Line ends the little book.", encoding="utf-8")
    assert main(["verbatim", str(text), "--checkpoint", str(folder), "--min", "12"]) == 0
    out = capsys.readouterr().out
    assert "line 3: 40 characters  “And The Third Line ends the little book.”" in out
    assert main(["verbatim", str(text), "--checkpoint", str(folder), "--min", "12", "--where"]) == 0
    where = capsys.readouterr().out.splitlines()[1]
    assert where.startswith("    from: “…") and "memorable↵and the third line ends the little book.↵" in where
    assert main(["verbatim", str(text), "--checkpoint", str(folder), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["longest"] == 40 and record["spans"][0]["line"] == 3 and record["min"] == 20
    assert "the third line ends the little book." in record["spans"][0]["passage"]
    corpus.write_text(CORPUS.replace("third", "3rd"), encoding="utf-8")
    assert main(["verbatim", str(text), "--checkpoint", str(folder)]) == 2
    assert "changed since this model was trained on it" in capsys.readouterr().err


def test_generate_json_says_what_each_column_copied(fixture_model, capsys):
    folder, _ = fixture_model
    args = ["generate", "--checkpoint", str(folder), "--prompt", "the", "--seed", "3", "--length", "40"]
    assert main([*args, "--json", "--copied-min", "3", "--temperatures", "0,1"]) == 0
    out, err = capsys.readouterr()
    index = VerbatimIndex.build(CORPUS, 3)
    for line in out.splitlines():
        column = json.loads(line)
        assert column["copied"] == index.copying(column["text"]).to_dict()
    assert err == ""
    assert main([*args, "--json", "--corpus", str(folder / "epoch_0001.json")]) == 0
    out, err = capsys.readouterr()
    assert all(json.loads(line)["copied"] is None for line in out.splitlines())
    assert err.count("no copied spans") == 1
