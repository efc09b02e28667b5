"""The trainer's side of the events contract: what a real run writes, how it ends."""

import pytest

from nietzsche_tui.contracts.events import read_events
from nietzsche_tui.contracts.folder import resolve_checkpoint
from nietzsche_tui.verbatim.index import VerbatimIndex
from tests.conftest import tiny_config, tiny_train_args
from trainer.cli import main as train_main
from trainer.train import train


class ShortSpans(VerbatimIndex):
    """Spans of 3+ characters: a model trained for eight batches copies some of those."""

    @classmethod
    def build(cls, text, min_span=3):
        return VerbatimIndex.build(text, min_span)


def test_a_run_writes_its_start_progress_epochs_and_end(tiny_corpus, tmp_path, monkeypatch):
    monkeypatch.setattr("trainer.train.VerbatimIndex", ShortSpans)
    train(tiny_config(tiny_corpus, tmp_path, epochs=2, sample_length=30, temperatures=(0.5, 1.0)))
    events = read_events(tmp_path)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert events[0]["epochs"] == 2 and events[0]["steps_per_epoch"] == 4 and events[0]["settings"]["units"] == 16
    batches = [e for e in events if e["event"] == "batch"]
    assert batches and all(1 <= e["batch"] <= e["batches"] == 4 for e in batches)
    assert any(e["batch"] == 4 for e in batches)  # the last batch of an epoch is always reported
    ended = [e for e in events if e["event"] == "epoch_ended"]
    assert [e["epoch"] for e in ended] == [1, 2]
    for event in ended:
        assert event["checkpoint"] == f"epoch_{event['epoch']:04d}.json" and event["val_loss"] > 0
        assert [s["temperature"] for s in event["samples"]] == [0.5, 1.0]
        assert all(len(s["text"]) == 30 for s in event["samples"]) and event["seed_text"]
        # What the samples copied from the training text, in the events and in the checkpoint.
        index = ShortSpans.build(tiny_corpus.read_text(encoding="utf-8").lower())
        copied = [index.copying(s["text"]) for s in event["samples"]]
        assert event["copied_longest"] == max(c.longest for c in copied)
        assert event["copied_fraction"] == pytest.approx(sum(c.covered for c in copied) / 60)
        metrics = resolve_checkpoint(tmp_path / event["checkpoint"]).metadata.metrics
        assert (metrics.copied_longest, metrics.copied_fraction) == (event["copied_longest"], event["copied_fraction"])
    assert max(e["copied_longest"] for e in ended) >= 3


def test_a_failed_start_is_written_when_the_folder_exists(tmp_path, capsys):
    code = train_main(["--corpus", str(tmp_path / "missing.txt"), "--out", str(tmp_path)])
    assert code == 2
    failed = read_events(tmp_path)[-1]
    assert failed["event"] == "run_failed" and "does not exist" in failed["message"]
    assert failed["message"] in capsys.readouterr().err


@pytest.mark.slow  # fault injection into a training run: the slow step
def test_a_diverged_run_ends_with_run_stopped(tiny_corpus, tmp_path):
    assert train_main([*tiny_train_args(tiny_corpus, tmp_path, epochs=2), "--learning-rate", "1e9"]) == 3
    last = read_events(tmp_path)[-1]
    assert last["event"] == "run_stopped" and last["reason"] == "diverged" and "training stopped" in last["message"]
