"""Training survives being killed; readers never see a partial checkpoint; disk errors lose nothing."""

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from nietzsche_tui.contracts.checkpoint import CheckpointError
from nietzsche_tui.contracts.folder import complete_checkpoints, latest_checkpoint
from nietzsche_tui.engine.weights import load_weights
from tests.conftest import tiny_train_args

EPOCHS = 40  # room for ten kills of up to 2.5 epochs each, and the run that finishes


def train_command(corpus, out, epochs=EPOCHS):
    return [sys.executable, "-m", "trainer.cli", *tiny_train_args(corpus, out, epochs, steps=6)]


def start(command):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for_first_checkpoint(folder, process, timeout=120):
    wait_for_epoch_after(folder, 0, process, timeout)


def wait_for_epoch_after(folder, epoch, process, timeout=120):
    """Wait until the trainer has completed an epoch later than ``epoch`` (so it is mid-training).

    Fails the test on a timeout; returns early (without failing) only when the trainer has exited,
    which the callers check through its exit status and checkpoints.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        latest = latest_checkpoint(folder)
        if latest is not None and latest.epoch > epoch:
            return
        if process.poll() is not None:
            return
        time.sleep(0.02)
    raise AssertionError(f"no epoch after {epoch} appeared in {folder} within {timeout} s")


@pytest.mark.slow
def test_sigkill_at_random_moments_never_loses_a_complete_epoch(tiny_corpus, tmp_path):
    rng = random.Random(20261127)
    kills, mid_write, resumed = 0, 0, 0
    epoch_seconds = None  # measured in the first run, so the kills keep pace with the trainer's speed
    for _ in range(40):
        before = [c.epoch for c in complete_checkpoints(tmp_path)]
        if before and before[-1] == EPOCHS:
            break
        process = start(train_command(tiny_corpus, tmp_path))
        if kills < 10:
            # Kill while training runs: after a new epoch appears, a random delay of up to one and a
            # half epochs lands mid-epoch, between epochs or inside a checkpoint write. A fixed delay
            # let a faster trainer finish all its epochs before the tenth kill.
            wait_for_epoch_after(tmp_path, before[-1] if before else 0, process)
            if epoch_seconds is None:
                started = time.monotonic()
                wait_for_epoch_after(tmp_path, latest_checkpoint(tmp_path).epoch, process)
                epoch_seconds = max(time.monotonic() - started, 0.02)
            time.sleep(rng.uniform(0.0, 1.5 * epoch_seconds))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
                mid_write += any(p.name.startswith(".") for p in tmp_path.iterdir())
        out, _ = process.communicate(timeout=300)
        resumed += "Resuming from" in out
        after = complete_checkpoints(tmp_path)
        epochs = [c.epoch for c in after]
        assert epochs == list(range(1, len(epochs) + 1)), epochs  # no gaps, no partial "latest"
        assert epochs[: len(before)] == before  # nothing complete was ever lost
        for checkpoint in after:
            load_weights(checkpoint)  # every complete checkpoint loads
    print(
        f"SIGKILL: {kills} kills, {mid_write} left a partial write behind, {resumed} resumed runs,"
        f" an epoch took {epoch_seconds:.3f} s"
    )
    assert kills >= 10 and resumed >= 10
    assert [c.epoch for c in complete_checkpoints(tmp_path)] == list(range(1, EPOCHS + 1))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert all(name.endswith((".tmp", ".partial.keras")) for name in leftovers)


@pytest.mark.slow  # a real trainer process; the fast loop keeps the in-process fault tests
def test_sigint_stops_cleanly_and_says_how_to_resume(tiny_corpus, tmp_path):
    process = start(train_command(tiny_corpus, tmp_path, epochs=500))
    wait_for_first_checkpoint(tmp_path, process)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "rerun the same command to resume" in err and "Traceback" not in err
    epochs = [c.epoch for c in complete_checkpoints(tmp_path)]
    assert epochs and epochs == list(range(1, len(epochs) + 1))


@pytest.mark.slow  # a real trainer process for ten epochs
def test_a_reader_polling_during_training_never_sees_a_partial_checkpoint(tiny_corpus, tmp_path):
    process = start(train_command(tiny_corpus, tmp_path, epochs=10))
    loads, problems = [], []

    def poll():
        while process.poll() is None:
            try:
                checkpoint = latest_checkpoint(tmp_path)
                if checkpoint is not None:
                    load_weights(checkpoint)
                    loads.append(checkpoint.epoch)
            except CheckpointError as error:  # pragma: no cover - this is the failure being tested
                problems.append(str(error))
            time.sleep(0.002)  # 500 reads a second: every write is seen mid-way, the trainer still gets a core

    reader = threading.Thread(target=poll)
    reader.start()
    process.communicate(timeout=300)
    reader.join()
    assert process.returncode == 0
    assert problems == []
    assert len(set(loads)) >= 5 and loads == sorted(loads)


@pytest.mark.slow  # fault injection: the thorough run proves it
def test_a_full_disk_gives_a_clear_error_and_keeps_earlier_checkpoints(tiny_corpus, tmp_path, monkeypatch, capsys):
    import errno

    from tests.conftest import tiny_config
    from trainer import callbacks
    from trainer.cli import main as train_main
    from trainer.train import train

    train(tiny_config(tiny_corpus, tmp_path, epochs=1, sample_length=0))
    before = (tmp_path / "epoch_0001.keras").read_bytes()

    def disk_full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(callbacks, "atomic_write_bytes", disk_full)
    code = train_main(tiny_train_args(tiny_corpus, tmp_path, 2))
    err = capsys.readouterr().err
    assert code == 1 and "No space left on device" in err and "earlier checkpoints are intact" in err
    assert [c.epoch for c in complete_checkpoints(tmp_path)] == [1]
    assert (tmp_path / "epoch_0001.keras").read_bytes() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_a_read_only_folder_is_refused_before_training(tiny_corpus, tmp_path, capsys):
    from trainer.cli import main as train_main

    tmp_path.chmod(0o555)
    try:
        assert train_main(["--corpus", str(tiny_corpus), "--out", str(tmp_path), "--maxlen", "12"]) == 2
        assert "cannot write checkpoints" in capsys.readouterr().err
    finally:
        tmp_path.chmod(0o755)


@pytest.mark.slow  # a real trainer process
def test_sigint_stops_the_run_even_when_started_with_sigint_ignored(tiny_corpus, tmp_path):
    """A server's or a background job's child inherits SIGINT ignored; the app's Stop is a SIGINT."""
    process = subprocess.Popen(
        train_command(tiny_corpus, tmp_path, epochs=500),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    wait_for_first_checkpoint(tmp_path, process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and "rerun the same command to resume" in err
