"""How a run uses the CPU it is placed on: TensorFlow's threads on a small machine."""

import pytest
import tensorflow as tf

from trainer import devices


@pytest.mark.parametrize(("cores", "threads"), [(1, (1, 2)), (2, (1, 2)), (8, None)])
def test_two_cores_or_fewer_run_one_thread_per_op_and_two_ops_at_once(monkeypatch, cores, threads):
    chosen: dict[str, int] = {}
    monkeypatch.setattr(devices.os, "sched_getaffinity", lambda pid: set(range(cores)))
    set_intra = lambda n: chosen.__setitem__("intra", n)  # noqa: E731
    set_inter = lambda n: chosen.__setitem__("inter", n)  # noqa: E731
    monkeypatch.setattr(tf.config.threading, "set_intra_op_parallelism_threads", set_intra)
    monkeypatch.setattr(tf.config.threading, "set_inter_op_parallelism_threads", set_inter)
    devices._threads_for_a_small_cpu()
    assert ((chosen["intra"], chosen["inter"]) if chosen else None) == threads


def test_threads_already_fixed_in_this_process_are_left_as_they_are(monkeypatch):
    def too_late(n):
        raise RuntimeError("Intra op parallelism cannot be modified after initialization.")

    monkeypatch.setattr(devices.os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(tf.config.threading, "set_intra_op_parallelism_threads", too_late)
    devices._threads_for_a_small_cpu()  # a second run in one process trains on, no error
