"""`nietzsche-train --tensorboard DIR`: what keras.callbacks.TensorBoard writes, plus the held-out
loss and each epoch's samples as text, read back with TensorFlow's own summary iterator."""

from collections import defaultdict

import pytest

from nietzsche_tui.contracts.events import read_events
from tests.conftest import tiny_train_args
from trainer.cli import main as train_main


def summaries(folder):
    """{run: {tag: {step: value}}} from every event file under ``folder``."""
    import tensorflow as tf

    found: dict = defaultdict(lambda: defaultdict(dict))
    for path in folder.rglob("events.out.tfevents.*"):
        run = path.parent.relative_to(folder).as_posix()
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                array = tf.make_ndarray(value.tensor)
                found[run][value.tag][event.step] = array.item() if array.shape == () else array
    return found


def test_tensorboard_shows_the_losses_the_held_out_loss_and_the_samples(tiny_corpus, tmp_path):
    out, board = tmp_path / "run", tmp_path / "board"
    args = tiny_train_args(tiny_corpus, out, epochs=2)
    assert train_main([*args, "--sample-length", "25", "--temperatures", "0.5,1", "--tensorboard", str(board)]) == 0
    found = summaries(board)
    ended = [e for e in read_events(out) if e["event"] == "epoch_ended"]
    train_loss = found["train"]["epoch_loss"]
    held_out = found["validation"]["epoch_loss"]
    assert sorted(train_loss) == sorted(held_out) == [0, 1]
    for step, event in enumerate(ended):
        assert train_loss[step] == pytest.approx(event["train_loss"], rel=1e-6)
        assert held_out[step] == pytest.approx(event["val_loss"], rel=1e-6)
        for sample in event["samples"]:
            text = found["samples"][f"sample/T={sample['temperature']:g}"][step].decode("utf-8")
            assert text.endswith(sample["text"]) and event["seed_text"] in text
    assert "epoch_copied_fraction" in found["train"]  # what the samples copied, per epoch
