"""The training-events contract: whole lines out, tolerant reading in, one story of the latest run."""

import json
import os
import subprocess
import sys

from nietzsche_tui.contracts.events import EVENTS_FILE, EventReader, EventWriter, RunState, read_events


def test_written_events_read_back_in_order(tmp_path):
    writer = EventWriter(tmp_path, run="r1")
    writer.write("run_started", pid=os.getpid(), initial_epoch=0, epochs=3, steps_per_epoch=10, settings={})
    writer.write("batch", epoch=1, batch=4, batches=10, loss=3.2, seconds=1.0)
    writer.write(
        "epoch_ended", epoch=1, train_loss=3.0, val_loss=float("nan"), samples=[{"temperature": 0.5, "text": "ab"}]
    )
    events = read_events(tmp_path)
    assert [e["event"] for e in events] == ["run_started", "batch", "epoch_ended"]
    assert all(e["v"] == 1 and e["run"] == "r1" and isinstance(e["time"], float) for e in events)
    assert events[2]["val_loss"] is None  # NaN is not JSON: it becomes null


def test_a_truncated_last_line_waits_and_garbage_is_skipped(tmp_path):
    path = tmp_path / EVENTS_FILE
    good = json.dumps({"v": 1, "event": "batch", "epoch": 1, "batch": 2, "batches": 5}) + "\n"
    path.write_bytes(
        good.encode() + b"\x00\xffnot json\n" + b'{"v": 2, "event": "future"}\n' + b'{"v": 1, "event": "ba'
    )
    reader = EventReader(tmp_path)
    assert [e["event"] for e in reader.read()] == ["batch"]
    assert reader.skipped == 2
    with open(path, "ab") as stream:  # the writer finishes its line
        stream.write(b'tch", "epoch": 1, "batch": 3, "batches": 5}\n')
    assert [e["batch"] for e in reader.read()] == [3]
    assert reader.read() == []


def test_a_replaced_file_is_read_from_its_start(tmp_path):
    EventWriter(tmp_path).write("run_started", pid=1, epochs=2)
    reader = EventReader(tmp_path)
    assert len(reader.read()) == 1
    (tmp_path / EVENTS_FILE).unlink()
    EventWriter(tmp_path).write("run_failed", message="bad corpus")
    assert [e["event"] for e in reader.read()] == ["run_failed"]


def test_run_state_tells_the_latest_story(tmp_path):
    writer = EventWriter(tmp_path)
    writer.write("run_started", pid=os.getpid(), initial_epoch=2, epochs=5, settings={"recipe": "fast"})
    state = RunState().apply_all(read_events(tmp_path))
    assert state.live and state.epoch == 3 and state.epochs_target == 5
    writer.write("batch", epoch=3, batch=5, batches=10, loss=1.5, seconds=2.0)
    writer.write(
        "epoch_ended",
        epoch=3,
        train_loss=1.4,
        val_loss=1.5,
        checkpoint="epoch_0003.json",
        seed_text="s",
        samples=[{"temperature": 0.2, "text": "x"}, "garbage"],
    )
    writer.write("run_failed", message="disk full")
    state = RunState().apply_all(read_events(tmp_path))
    assert state.status == "failed" and state.message == "disk full" and not state.live
    assert state.epochs[3].samples == [(0.2, "x")] and state.epochs[3].checkpoint == "epoch_0003.json"


def test_a_killed_run_is_not_live_forever(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    EventWriter(tmp_path).write("run_started", pid=process.pid, epochs=3)
    state = RunState().apply_all(read_events(tmp_path))
    state.check_alive()
    assert state.status == "stopped" and "killed" in state.message


def test_eta_from_the_pace_of_the_epoch():
    state = RunState(status="running", batch=25, batches=100, epoch_seconds=5.0)
    assert state.eta_seconds() == 15.0


def test_short_lines_are_never_read_twice(tmp_path):
    path = tmp_path / EVENTS_FILE
    path.write_bytes(b'{"v":1,"event":"a"}\n')
    reader = EventReader(tmp_path)
    assert [e["event"] for e in reader.read()] == ["a"]
    with open(path, "ab") as stream:
        stream.write(b'{"v":1,"event":"b"}\n' * 5)
    assert [e["event"] for e in reader.read()] == ["b"] * 5


def test_a_folder_watch_rereads_a_line_it_caught_half_written(tmp_path):
    """The file's size and time can stop changing before the reader has seen its last line whole."""
    import os

    from nietzsche_tui.runs import FolderWatch

    EventWriter(tmp_path).write("run_started", pid=os.getpid(), epochs=3)
    watch = FolderWatch(tmp_path)
    path = tmp_path / EVENTS_FILE
    line = json.dumps({"v": 1, "event": "run_stopped", "reason": "interrupted", "message": "interrupted"}) + "\n"
    with open(path, "ab") as stream:
        stream.write(line[:20].encode())  # what a read in the middle of the write sees
    watch.poll()
    assert watch.state.live
    with open(path, "r+b") as stream:  # the rest lands; pin the file's time so the stat looks the same
        stream.seek(0, 2)
        stream.write(line[20:].encode())
    stat = path.stat()
    watch._signature = (watch._signature[0], (stat.st_mtime_ns, stat.st_size))
    watch.poll()
    assert watch.state.status == "stopped" and watch.state.message == "interrupted"
