"""Fixtures for the app's tests: a finished training run in a folder, written without Keras."""

import json

import pytest

from nietzsche_tui.contracts.events import EVENTS_FILE
from tests.checkpoints import random_weights, write_checkpoint
from tests.conftest import TINY_TEXT

VOCABULARY = sorted(set(TINY_TEXT.lower()))
LOSSES = {1: (3.4, 3.2), 2: (2.6, 2.5), 3: (2.1, 2.2), 4: (1.8, 2.05)}


def write_epoch(folder, epoch, start=1_800_000_000.0, shift=0.0):
    """One epoch as a trainer leaves it: the checkpoint, then its events line (fixed times);
    ``shift`` moves both losses (another run)."""
    train, val = (loss + shift for loss in LOSSES.get(epoch, (1.7, 2.0)))
    write_checkpoint(
        folder,
        random_weights(len(VOCABULARY), 16, seed=epoch, scale=0.3 + 0.2 * epoch),
        VOCABULARY,
        epoch=epoch,
        maxlen=20,
        metrics={
            "train_loss": train,
            "val_loss": val,
            "learning_rate": 0.02 * 0.98 ** (epoch - 1),
            "epoch_seconds": 30.0,
            "total_seconds": 30.0 * epoch,
            "copied_longest": 14 + 6 * epoch,
            "copied_fraction": 0.03 * epoch,
        },
        seed_passages=["what then? is there not"],
    )
    line = {
        "v": 1,
        "event": "epoch_ended",
        "time": start + 30 * epoch,
        "run": "fixture",
        "epoch": epoch,
        "train_loss": train,
        "val_loss": val,
        "checkpoint": f"epoch_{epoch:04d}.json",
        "seed_text": "truth is a woman",
        "samples": [{"temperature": t, "text": f" (epoch {epoch} at {t})"} for t in (0.2, 1.0)],
    }
    with open(folder / EVENTS_FILE, "a", encoding="utf-8") as stream:
        stream.write(json.dumps(line) + "\n")


@pytest.fixture
def run_folder(tmp_path, monkeypatch):
    """A finished four-epoch run in ./run (relative, so screens and snapshots read the same)."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "run"
    folder.mkdir()
    with open(folder / EVENTS_FILE, "w", encoding="utf-8") as stream:
        started = {"v": 1, "event": "run_started", "time": 1_800_000_000.0, "run": "fixture", "pid": 1}
        stream.write(json.dumps({**started, "initial_epoch": 0, "epochs": 4, "settings": {"recipe": "fast"}}) + "\n")
    for epoch in range(1, 5):
        write_epoch(folder, epoch)
    with open(folder / EVENTS_FILE, "a", encoding="utf-8") as stream:
        stream.write(json.dumps({"v": 1, "event": "run_finished", "time": 1_800_000_200.0, "run": "fixture"}) + "\n")
    return folder


@pytest.fixture(autouse=True)
def _notifications_last(monkeypatch):
    """Tests read the app's notifications after waiting for workers; on a slow machine a
    notification with the default 5-second life could expire first and fail a correct app."""
    from nietzsche_tui.tui.app import NietzscheApp

    monkeypatch.setattr(NietzscheApp, "NOTIFICATION_TIMEOUT", 600)
