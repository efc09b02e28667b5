"""Helpers the tests share: driving the app with a pilot, stored exchanges and history stores,
damaging files. Imported by test modules; no test module imports another."""

from __future__ import annotations

from nietzsche_tui.history.opening import open_history
from nietzsche_tui.history.records import Column, StoredExchange
from nietzsche_tui.tui.screens.dialogs import ProblemScreen

WIDE = (160, 40)
THOROUGH = False  # set by conftest: True in the `-m slow` run


def examples(thorough: int) -> int:
    """Examples a property-based test draws: ``thorough`` in the slow run, a tenth (at least 20)
    in the fast loop."""
    return thorough if THOROUGH else max(20, thorough // 10)


async def ready(app, pilot):
    """Wait until the model has loaded (it loads in a worker after the first frame)."""
    for _ in range(200):
        if app.engine is not None or isinstance(app.screen, ProblemScreen):
            return
        await pilot.pause(0.02)
    raise AssertionError("the model never loaded")


async def settle(app, pilot):
    """Wait for every worker to end and the app to handle what they posted (a worker's message
    may start another: a replay's engines load, then its generation streams), so the app must
    stay quiet for a few frames in a row."""
    quiet = 0
    for _ in range(3000):
        quiet = 0 if any(w.is_running for w in app.workers) else quiet + 1
        if quiet >= 3:
            break
        await pilot.pause(0.01)
    await pilot.pause()


def running(app):
    return [w for w in app.workers if w.group == "generation" and w.is_running]


async def open_start_form(app, pilot):
    """F5, then s: the start form, once the app is ready."""
    from nietzsche_tui.tui.screens.start_form import StartForm

    await ready(app, pilot)
    await pilot.press("f5")
    await pilot.pause()
    await pilot.press("s")
    await pilot.pause()
    assert isinstance(app.screen, StartForm)
    return app.screen


def fill(form, **values: str) -> None:
    """Type ``values`` into the start form's fields (by field name)."""
    for name, value in values.items():
        form.query_one(f"#field-{name}").value = value


async def history_ready(app, pilot):
    await ready(app, pilot)
    for _ in range(200):
        if app.history is not None or app.history_off:
            return
        await pilot.pause(0.02)
    raise AssertionError("the history never opened")


async def saved(app, pilot, count):
    for _ in range(200):
        if len(app.history.exchanges(limit=None)) >= count:
            return
        await pilot.pause(0.02)
    raise AssertionError(f"fewer than {count} exchanges were saved")


async def prompt(app, pilot, text):
    app.prompt_input.value = text
    await pilot.press("enter")
    await settle(app, pilot)


def messages(app) -> list[str]:
    """The notifications shown so far (Textual keeps them in a private list: it is read here
    only, so one place follows it if Textual changes)."""
    return [notification.message for notification in app._notifications]


def notified(app, text: str) -> bool:
    """Whether a notification holding ``text`` was shown."""
    return any(text in message for message in messages(app))


def stored(prompt="what is truth", texts=("a woman", "a lie"), kind="temperatures"):
    columns = [Column(label=f"T={t}", text=x, temperature=t, epoch=3) for t, x in zip((0.2, 1.0), texts, strict=False)]
    return StoredExchange(
        kind,
        prompt,
        prompt.lower(),
        ["🎉"],
        "/m/epoch_0003.json",
        3,
        "ab" * 32,
        "window",
        [0.2, 1.0],
        40,
        7,
        None,
        None,
        columns,
    )


def new_store(path, **kwargs):
    store, notice = open_history(path, **kwargs)
    assert store is not None and notice is None
    store.start_session("test")
    return store


def damage(path, how):
    if how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_text("{ not json")


def model_that_copies(tmp_path, seed=3, length=80):
    """A model and a training text that holds, on its third line, 30 characters of what the
    model writes at T=0.5 for "truth is" with this seed."""
    from nietzsche_tui.contracts.corpus import corpus_sha256
    from nietzsche_tui.engine.generation import Engine, GenerationRequest
    from tests.checkpoints import random_weights, write_checkpoint
    from tests.conftest import TINY_TEXT

    vocabulary = sorted(set(TINY_TEXT.lower()))
    weights = random_weights(len(vocabulary), 32, seed=2024)
    folder = tmp_path / "model"
    write_checkpoint(folder, weights, vocabulary, epoch=1, maxlen=20)
    generation = Engine.load(folder).generate(GenerationRequest("truth is", (0.5,), length, seed))
    written = "".join(step.chars[0] for step in generation)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(f"one line\nanother line\nhere: {written[20:50]} and more\n", encoding="utf-8")
    record = {"source": "corpus.txt", "paths": [str(corpus)], "sha256": corpus_sha256(corpus.read_text())}
    write_checkpoint(folder, weights, vocabulary, epoch=1, maxlen=20, corpus=record)
    return folder, corpus, written
