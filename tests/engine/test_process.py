"""Generation in a child process (engine/process.py): the same steps as in this process, a cancel
that leaves the child ready for the next stream, and a child that dies or never starts costing
nothing but speed (said once, the text the same)."""

import os
import signal
import subprocess
import sys

import pytest

from nietzsche_tui.engine.epochs import generate_epochs
from nietzsche_tui.engine.generation import Engine, GenerationRequest
from nietzsche_tui.engine.models import Columns, generate_columns
from nietzsche_tui.engine.process import GenerationProcess
from nietzsche_tui.engine.weights import load_weights

REQUEST = GenerationRequest("what then? is there", (0.2, 1.0, 1.2), length=120, seed=7)


@pytest.fixture
def process():
    child = GenerationProcess()
    child.start()
    yield child
    child.close()


@pytest.fixture(scope="module")
def engine(app_model):
    return Engine.load(app_model)


def texts(steps):
    """Every step's characters and probabilities (the two must agree exactly)."""
    steps = list(steps)
    assert steps
    return [(step.number, step.chars, step.probabilities) for step in steps]


def test_the_child_streams_what_this_process_computes(process, engine):
    for mode in ("window", "stateful"):
        request = GenerationRequest(REQUEST.prompt, REQUEST.temperatures, REQUEST.length, REQUEST.seed, mode)
        assert texts(process.stream([engine], request)) == texts(engine.generate(request))
    # Epochs side by side: several engines, one stacked network in the child too.
    copies = [engine, Engine.of(engine.checkpoint, load_weights(engine.checkpoint))]
    one = GenerationRequest(REQUEST.prompt, (0.8,), 80, seed=3)
    assert texts(process.stream(copies, one, Columns("epochs"))) == texts(generate_epochs(copies, one))
    # Models side by side, of two shapes: the bundled book model beside the fixture's.
    from nietzsche_tui.engine.models import generate_models
    from nietzsche_tui.locate import BUNDLED_MODELS

    models = [engine, Engine.load(BUNDLED_MODELS["book"])]
    names = ("model", "book")
    expected = texts(generate_models(models, names, one))
    assert texts(process.stream(models, one, Columns("models", names))) == expected
    assert process.failure is None


def test_a_cancelled_stream_leaves_the_child_ready_for_the_next(process, engine):
    long = GenerationRequest(REQUEST.prompt, REQUEST.temperatures, 20_000, seed=1)
    steps = process.stream([engine], long)
    first = [next(steps) for _ in range(5)]
    steps.close()  # the app's worker stops reading: the child must stop and say where it ended
    assert [s.number for s in first] == list(range(5))
    assert texts(process.stream([engine], REQUEST)) == texts(engine.generate(REQUEST))
    assert process.failure is None and process.available


def test_a_child_that_dies_mid_stream_costs_only_speed(process, engine):
    steps = process.stream([engine], REQUEST)
    received = [next(steps) for _ in range(10)]
    os.kill(process._child.pid, signal.SIGKILL)
    received += list(steps)  # the rest computed here, from the step where the child stopped
    assert texts(received) == texts(engine.generate(REQUEST))
    assert "continues in the app's own process" in process.failure
    assert not process.available
    assert texts(process.stream([engine], REQUEST)) == texts(engine.generate(REQUEST))


def test_a_child_that_cannot_start_leaves_generation_here(engine, monkeypatch):
    def refused(environment):
        raise OSError("no processes left")

    child = GenerationProcess()
    monkeypatch.setattr(child, "_spawn", refused)
    child.start()
    assert not child.available and "no processes left" in child.failure
    assert texts(child.stream([engine], REQUEST)) == texts(generate_columns([engine], REQUEST))


def test_the_child_exits_when_the_app_closes_it_or_goes_away(engine):
    child = GenerationProcess()
    child.start()
    pid_child = child._child
    child.prepare(engine)
    child.close()
    assert pid_child.poll() is not None
    # A parent that vanishes without closing: the child reads the end of its pipe and exits.
    orphan = subprocess.Popen(
        [sys.executable, "-m", "nietzsche_tui.engine.process"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    orphan.stdin.close()
    assert orphan.wait(timeout=10) == 0
