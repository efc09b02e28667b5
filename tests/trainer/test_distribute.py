"""Training under tf.distribute: MirroredStrategy on logical CPU devices, and two workers of
MultiWorkerMirroredStrategy on 127.0.0.1. Each needs fresh processes (devices are fixed when
TensorFlow starts), so these run the real ``nietzsche-train`` and sit in the slow run."""

import json
import os
import socket
import subprocess
import sys

import pytest

from nietzsche_tui.contracts.folder import complete_checkpoints
from nietzsche_tui.engine.generation import Engine, GenerationRequest
from tests.conftest import tiny_train_args

pytestmark = pytest.mark.slow


def trainer(args, env=None, **kwargs):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "trainer.cli", *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        **kwargs,
    )


def losses(folder):
    """Every epoch's number, training loss and held-out loss, in one flat list."""
    return [x for c in complete_checkpoints(folder) for x in (c.epoch, c.metadata.metrics.train_loss, c.val_loss)]


def finish(process, timeout=180):
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        raise
    assert process.returncode == 0, output
    return output


def test_mirrored_on_two_cpu_devices_is_the_same_maths_and_resumes(tiny_corpus, tmp_path):
    single = finish(trainer(tiny_train_args(tiny_corpus, tmp_path / "single", epochs=2)))
    mirrored_args = [*tiny_train_args(tiny_corpus, tmp_path / "mirrored", epochs=1), "--distribute", "mirrored"]
    mirrored_args += ["--cpu-devices", "2"]
    output = finish(trainer(mirrored_args))
    assert "MirroredStrategy over 2 logical CPU device(s)" in output and "one device" in single
    # Resume the mirrored run to epoch 2, still mirrored.
    mirrored_args[mirrored_args.index("--epochs") + 1] = "2"
    finish(trainer(mirrored_args))
    # --batch-size is the global batch: each step's 32 windows split 16 + 16 give the single
    # device's gradients, so the losses agree.
    assert losses(tmp_path / "mirrored") == pytest.approx(losses(tmp_path / "single"), rel=1e-4)
    engine = Engine.load(tmp_path / "mirrored")
    assert engine.checkpoint.epoch == 2 and engine.checkpoint.metadata.training["distribute"] == "mirrored"
    assert len(list(engine.generate(GenerationRequest("truth", (1.0,), length=10)))) == 10


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_on_localhost_train_and_only_the_chief_writes(tiny_corpus, tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    out = tmp_path / "shared"
    args = [*tiny_train_args(tiny_corpus, out, epochs=2), "--distribute", "multiworker"]
    workers = [
        trainer(args, {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})})
        for i in (1, 0)
    ]
    outputs = [finish(worker) for worker in workers]
    assert "worker 0 of 2 worker(s) (chief)" in outputs[1] and "worker 1 of 2 worker(s)" in outputs[0]
    checkpoints = complete_checkpoints(out)
    assert [c.epoch for c in checkpoints] == [1, 2]
    assert sorted(p.name for p in out.iterdir()) == [
        "epoch_0001.json",
        "epoch_0001.keras",
        "epoch_0002.json",
        "epoch_0002.keras",
        "events.jsonl",
        "log.csv",
    ]
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events].count("run_started") == 1  # the chief's stream alone
    assert Engine.load(out).checkpoint.epoch == 2
    # The same command on one worker computes the same maths: --batch-size is the global batch.
    alone = tmp_path / "alone"
    one = {"cluster": {"worker": [f"127.0.0.1:{free_ports(1)[0]}"]}, "task": {"type": "worker", "index": 0}}
    alone_args = [*tiny_train_args(tiny_corpus, alone, epochs=2), "--distribute", "multiworker"]
    finish(trainer(alone_args, {"TF_CONFIG": json.dumps(one)}))
    assert losses(out) == pytest.approx(losses(alone), rel=1e-4)


def test_bad_distribution_settings_are_one_line(tiny_corpus, tmp_path):
    args = [*tiny_train_args(tiny_corpus, tmp_path / "x", epochs=1), "--distribute", "multiworker"]
    result = subprocess.run(
        [sys.executable, "-m", "trainer.cli", *args],
        env={k: v for k, v in os.environ.items() if k != "TF_CONFIG"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "needs TF_CONFIG" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("ending", ["timeout", "ctrl-c", "sigterm to the group"])
def test_a_worker_that_never_comes_is_named_and_the_wait_ends(tiny_corpus, tmp_path, ending):
    """The README's TF_CONFIG with the second worker never started: the first says whom it waits
    for, and gives up at --worker-timeout, on Ctrl-C (SIGINT to its process group) or SIGTERM."""
    import signal
    import time

    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    config = {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": 0}}
    timeout = "6" if ending == "timeout" else "120"
    args = [*tiny_train_args(tiny_corpus, tmp_path / "run", epochs=1), "--distribute", "multiworker"]
    process = trainer([*args, "--worker-timeout", timeout], env={"TF_CONFIG": json.dumps(config)})
    lines = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if line.startswith("Waiting for the other workers of TF_CONFIG"):
            break
    assert f"127.0.0.1:{ports[1]}" in lines[-1], "".join(lines)
    started = time.monotonic()
    if ending == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)
    elif ending == "sigterm to the group":
        os.killpg(process.pid, signal.SIGTERM)  # what a service manager sends
    try:
        rest, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    assert time.monotonic() - started < (12 if ending == "timeout" else 8)
    said = {
        "timeout": "did not all join within 6 s (--worker-timeout)",
        "ctrl-c": "stopped (Ctrl-C) while waiting for the other workers",
        "sigterm to the group": "stopped (SIGTERM) while waiting for the other workers",
    }[ending]
    assert said in rest and "Traceback" not in rest
