"""A real `nietzsche-tui serve` process on 127.0.0.1, and what it has started."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (the apps a server started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


def wait_for(condition, timeout: float, what: str, pause=lambda: time.sleep(0.05), shown=lambda: ""):
    """Poll ``condition`` until it holds (returning its value); ``pause`` waits between polls, and
    ``shown`` adds what was on screen to the failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        pause()
    raise AssertionError(f"timed out after {timeout} s waiting for {what}{shown()}")


class Served:
    """A running server: its process, port and address."""

    def __init__(self, process: subprocess.Popen, port: int) -> None:
        self.process, self.port = process, port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/ws?width=100&height=30"

    def apps(self) -> list[int]:
        return children(self.process.pid)


@pytest.fixture
def serve(app_model, tmp_path):
    """Start `nietzsche-tui serve` with extra options; every process it started is stopped after."""
    started: list[Served] = []

    def start(*options: str) -> Served:
        port = free_port()
        command = [sys.executable, "-m", "nietzsche_tui", "serve", "--port", str(port)]
        command += ["--checkpoint", str(app_model), "--seed", "7", "--length", "60", *options]
        log = open(tmp_path / f"serve-{port}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
        served = Served(process, port)
        started.append(served)

        def listening():
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        wait_for(listening, 30, "the server to listen")
        return served

    yield start
    for served in started:
        for pid in served.apps():
            with contextlib.suppress(ProcessLookupError):  # it may end between the listing and the kill
                os.killpg(pid, signal.SIGKILL)  # whatever a failed test left (the apps lead their groups)
        if served.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(served.process.pid, signal.SIGKILL)
        served.process.wait()
