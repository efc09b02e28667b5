"""Where training runs: one device (the default), all local GPUs, or several machines.

* ``none``: TensorFlow's default device placement (one GPU if there is one, else the CPU).
* ``mirrored``: ``tf.distribute.MirroredStrategy`` over the local GPUs, or over ``--cpu-devices N``
  logical CPU devices (the CPU split in N; for trying the strategy on a machine without GPUs: it
  proves correctness, not speed).
* ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy``; every machine runs the same
  command with its own ``TF_CONFIG`` (TensorFlow's JSON: the cluster's worker addresses and this
  task's index). Worker 0 is the chief.

In every case ``--batch-size`` is the global batch: each step's batch is split evenly among all
devices of all workers, so the same command computes the same maths on one device or many. Only
the chief writes checkpoints, ``log.csv`` and the events stream; every worker scores the held-out
text (the same weights give the same loss), so all of them take the same decision to stop.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from nietzsche_tui.contracts.training import DISTRIBUTE


class DeviceError(Exception):
    """A distribution setting that cannot work here; the message says what to do."""


@dataclass(frozen=True)
class Placement:
    """The strategy training runs under, and whether this process writes the run's files."""

    strategy: object  # a tf.distribute.Strategy
    replicas: int
    is_chief: bool
    description: str
    on_gpu: bool = False  # the model's steps run on GPUs (cuDNN), not on the CPU


def _configure_cpu_devices(count: int) -> list[str]:
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        # Already initialised (a second run in one process): the split only works before the first op.
        if len(tf.config.list_logical_devices("CPU")) != count:
            raise DeviceError(
                f"--cpu-devices {count}: TensorFlow was already initialised in this process; "
                "start a new process to change the device split."
            ) from None
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def writes_files(distribute: str) -> bool:
    """Whether this process writes the run's checkpoints and events: always, except on the
    workers of a multi-worker run other than the chief (worker 0, or the task named "chief")."""
    if distribute != "multiworker":
        return True
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        task = config["task"]
        return task["type"] == "chief" or (int(task["index"]) == 0 and "chief" not in config["cluster"])
    except (ValueError, KeyError, TypeError):
        return True  # place() explains the bad TF_CONFIG


def _check_tf_config() -> None:
    """Check TF_CONFIG before TensorFlow tries to (its own errors are long and late)."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise DeviceError(
            "--distribute multiworker needs TF_CONFIG, e.g. "
            '\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}\''
        )
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"]
        task = config["task"]
        assert isinstance(workers, list) and workers and task["type"] in ("worker", "chief")
        assert 0 <= int(task["index"]) < len(config["cluster"][task["type"]])
    except (ValueError, KeyError, TypeError, AssertionError):
        raise DeviceError(
            "TF_CONFIG is not a cluster of workers with this task's type and index; "
            "see TensorFlow's multi-worker guide for its JSON."
        ) from None


# A separate process watches the wait: TensorFlow's constructor holds the interpreter lock in its
# C++ wait, so no Python code of this process (a timer, a signal handler) runs until it returns.
_WATCHDOG = """
import os, select, signal, sys, time
parent, timeout, others = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
def stop(code, why):
    print("nietzsche-train: " + why, file=sys.stderr, flush=True)
    os.kill(parent, signal.SIGKILL)
    sys.exit(code)
signal.signal(signal.SIGINT, lambda *a: stop(130, "stopped (Ctrl-C) while waiting for the other workers"))
signal.signal(signal.SIGTERM, lambda *a: stop(143, "stopped (SIGTERM) while waiting for the other workers"))
started, told = time.monotonic(), False
while True:
    if select.select([sys.stdin], [], [], 0.25)[0] and not os.read(sys.stdin.fileno(), 1):
        sys.exit(0)  # the strategy is made (or the trainer ended): nothing to watch
    waited = time.monotonic() - started
    if not told and waited > 2:
        told = True
        print(f"Waiting for the other workers of TF_CONFIG: {others} (at most {timeout:g} s; Ctrl-C stops)",
              file=sys.stderr, flush=True)
    if waited > timeout:
        stop(1, f"the workers {others} did not all join within {timeout:g} s (--worker-timeout); start the "
                "same command on each of them, or fix TF_CONFIG")
"""


def _wait_for_workers(make_strategy, timeout: float):
    """``make_strategy()`` for a multi-worker run, given up after ``timeout`` seconds.

    TensorFlow's constructor waits for every worker of TF_CONFIG without a word, and inside that
    wait neither Ctrl-C nor SIGTERM reached Python: a worker that never came made the run hang
    until SIGKILL. A watchdog process (in the same process group, so it hears Ctrl-C) says whom
    this worker waits for, and ends it with one line at the timeout or on Ctrl-C (SIGTERM sent to
    the watchdog's process group ends it too). SIGTERM sent to the trainer's pid alone is still
    swallowed by TensorFlow during this wait (blocking it, or restoring its default, did not help):
    the timeout bounds that case.
    """
    import subprocess
    import sys

    config = json.loads(os.environ["TF_CONFIG"])
    task = config["task"]
    others = ", ".join(
        address
        for kind, addresses in config["cluster"].items()
        for index, address in enumerate(addresses)
        if (kind, index) != (task["type"], int(task["index"]))
    )
    watchdog = subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(timeout), others or "(none)"], stdin=subprocess.PIPE
    )
    try:
        return make_strategy()
    finally:
        watchdog.stdin.close()
        watchdog.wait()


def _threads_for_a_small_cpu() -> None:
    """On two cores or fewer, TensorFlow runs each op on one thread and two ops at once.

    Its default (each op split over both cores) costs more in hand-offs than the small matrix
    products of a character LSTM gain: the book recipe trained 1.2× faster this way on a 2-core
    machine (``benchmarks/RESULTS.md``). Larger machines keep TensorFlow's defaults (not measured).
    """
    import tensorflow as tf

    if len(os.sched_getaffinity(0)) > 2:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(2)
    except RuntimeError:
        pass  # TensorFlow already started in this process (a second run): its threads stay


def place(distribute: str, cpu_devices: int | None, worker_timeout: float = 300.0) -> Placement:
    """Create the strategy (before any TensorFlow op, so logical devices and threads can still be configured)."""
    import tensorflow as tf

    if distribute not in DISTRIBUTE:
        raise DeviceError(f"--distribute must be one of {', '.join(DISTRIBUTE)}, got {distribute!r}")
    if cpu_devices is not None and distribute == "none":
        raise DeviceError("--cpu-devices splits the CPU for --distribute mirrored; add that flag or drop this one")
    gpus = tf.config.list_physical_devices("GPU")
    on_gpu = bool(gpus) and cpu_devices is None
    if not on_gpu:
        _threads_for_a_small_cpu()
    if distribute == "none":
        return Placement(tf.distribute.get_strategy(), 1, True, "one device", on_gpu)
    if distribute == "mirrored":
        if cpu_devices is not None or not gpus:
            devices = _configure_cpu_devices(cpu_devices or 1)
            strategy = tf.distribute.MirroredStrategy(devices)
            where = f"{len(devices)} logical CPU device(s)"
        else:
            strategy = tf.distribute.MirroredStrategy()
            where = f"{len(gpus)} GPU(s)"
        return Placement(strategy, strategy.num_replicas_in_sync, True, f"MirroredStrategy over {where}", on_gpu)
    _check_tf_config()
    if cpu_devices is not None:
        _configure_cpu_devices(cpu_devices)
    strategy = _wait_for_workers(tf.distribute.MultiWorkerMirroredStrategy, worker_timeout)
    resolver = strategy.cluster_resolver
    is_chief = writes_files(distribute)
    workers = len(resolver.cluster_spec().as_dict().get("worker", []))
    description = f"MultiWorkerMirroredStrategy, {resolver.task_type} {resolver.task_id} of {workers} worker(s)"
    return Placement(
        strategy, strategy.num_replicas_in_sync, is_chief, description + (" (chief)" if is_chief else ""), on_gpu
    )


def work_around_keras_multiworker(model, placement: Placement, batch) -> None:
    """Make Keras 3's ``fit`` work under MultiWorkerMirroredStrategy (keras-team/keras#20585).

    Two steps of ``fit`` call ``strategy.reduce`` in ways that fail with more than one worker:
    building the loss and optimizer from a batch averaged across replicas ("Attempt to convert a
    value (PerReplica…)") and averaging each step's logged loss along an axis a scalar lacks
    ("Invalid reduction dimension 0"). Here the model is built from one local batch of the same
    shapes, and the logged loss takes Keras's MirroredStrategy path (the mean over this worker's
    replicas of a metric whose state TensorFlow already synchronises). The gradients are all-reduced
    across workers either way: the training maths is untouched. A test runs two workers end to end
    and finds the same losses on both as on one worker, so a Keras upgrade that changes these
    internals fails there, not in a user's run.
    """
    from keras.src.backend.tensorflow import trainer as keras_tf_trainer

    with placement.strategy.scope():
        model._symbolic_build(data_batch=batch)
    model._maybe_symbolic_build = lambda *args, **kwargs: None
    keras_tf_trainer._collective_all_reduce_multi_worker = lambda strategy: False
