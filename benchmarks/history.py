"""History speed: opening, listing and searching 10,000 stored exchanges; what saving costs the UI.

    uv run python benchmarks/history.py [--exchanges 10000]

Builds a database of realistic exchanges (four 400-character columns of the bundled model's text
each) in a temporary folder, then times, each the best of 5: opening it (with SQLite's integrity
check), the history screen's list (the newest 500), and full-text searches for a common and a
rare word. Finally it streams 20 short prompts through the app headless with history on and off
and reports the UI thread's time in the handlers that run when an exchange ends (the save itself
runs in a worker thread).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(path: Path, count: int) -> None:
    from nietzsche_tui.engine.generation import Engine, GenerationRequest
    from nietzsche_tui.history.opening import open_history
    from nietzsche_tui.history.records import Column, StoredExchange
    from nietzsche_tui.locate import BUNDLED_MODEL_DIR

    engine = Engine.load(BUNDLED_MODEL_DIR)
    samples = []
    for seed in range(8):  # a few real texts, reused: building must not take minutes
        steps = list(engine.generate(GenerationRequest("what is truth? ", length=400, seed=seed)))
        samples.append(["".join(s.chars[i] for s in steps) for i in range(4)])
    store, _ = open_history(path, max_exchanges=count + 1)
    store.start_session("benchmark")
    for i in range(count):
        texts = samples[i % len(samples)]
        columns = [Column(f"T={t}", text, "done", t, 80) for t, text in zip((0.2, 0.5, 1.0, 1.2), texts, strict=True)]
        prompt = f"prompt {i}: what is truth" + (" zarathustra" if i == count // 2 else "")
        store.add(
            StoredExchange(
                "temperatures",
                prompt,
                prompt,
                [],
                "model/epoch_0080.json",
                80,
                "0" * 64,
                "window",
                [0.2, 0.5, 1.0, 1.2],
                400,
                i,
                None,
                None,
                columns,
            )
        )
    store.close()


def best_of(function, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


async def finish_cost(history: Path | None) -> float:
    """Median UI-thread milliseconds spent handling an exchange's end."""
    from nietzsche_tui.tui.app import NietzscheApp, make_app
    from nietzsche_tui.tui.screens.chat import ChatScreen

    spent: list[float] = []
    originals = (ChatScreen.on_chat_view_finished, NietzscheApp.on_chat_view_finished)

    def timed(original):
        def handler(self, message):
            started = time.perf_counter()
            original(self, message)
            spent.append(time.perf_counter() - started)

        return handler

    ChatScreen.on_chat_view_finished = timed(originals[0])
    NietzscheApp.on_chat_view_finished = timed(originals[1])
    try:
        app = make_app(seed=1, length=40, history=str(history) if history else None, keep_history=history is not None)
        async with app.run_test(size=(160, 40)) as pilot:
            while app.engine is None or (history and app.history is None):
                await pilot.pause(0.01)
            for i in range(20):
                app.send(f"prompt {i}")
                while any(w.is_running for w in app.workers if w.group == "generation"):
                    await pilot.pause(0.005)
                await pilot.pause(0.05)
    finally:
        ChatScreen.on_chat_view_finished, NietzscheApp.on_chat_view_finished = originals
    per_finish = [a + b for a, b in zip(spent[0::2], spent[1::2], strict=False)]
    return statistics.median(per_finish) * 1000


async def screen_open(history: Path) -> tuple[float, float]:
    """Milliseconds from F6 to the history screen listing its rows, and from typing a search to its results."""
    from nietzsche_tui.tui.app import make_app

    app = make_app(history=str(history), keep_history=True)
    async with app.run_test(size=(160, 40)) as pilot:
        while app.history is None:
            await pilot.pause(0.01)
        started = time.perf_counter()
        app.action_history()
        while not (
            app.screen.is_mounted
            and app.screen.query("#history-list")
            and app.screen.query_one("#history-list").row_count
        ):
            await pilot.pause(0.001)
        opened = time.perf_counter() - started
        started = time.perf_counter()
        app.screen.query_one("#history-search").value = "zarathustra"
        while app.screen.query_one("#history-list").row_count != 1:
            await pilot.pause(0.001)
        searched = time.perf_counter() - started
    return opened * 1000, searched * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exchanges", type=int, default=10_000)
    args = parser.parse_args()
    from nietzsche_tui.history.opening import open_history

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.db"
        started = time.perf_counter()
        build(path, args.exchanges)
        print(
            f"built {args.exchanges:,} exchanges in {time.perf_counter() - started:.1f} s "
            f"({path.stat().st_size / 2**20:.1f} MB)\n"
        )
        store, _ = open_history(path)
        rows = [
            ("open the database (integrity check, migrations)", best_of(lambda: open_history(path)[0].close())),
            ("list the newest 500 (the history screen)", best_of(lambda: store.exchanges(limit=500))),
            ("search a common word (truth)", best_of(lambda: store.exchanges(search="truth", limit=500))),
            ("search a rare word (zarathustra)", best_of(lambda: store.exchanges(search="zarathustra", limit=500))),
        ]
        print("| operation | best of 5 (ms) | target |")
        print("|---|---|---|")
        for name, seconds in rows:
            print(f"| {name} | {seconds * 1000:.2f} | < 300 |")
        store.close()
        opened, searched = asyncio.run(screen_open(path))
        print(f"| F6 to the history screen listing 500 rows (in the app) | {opened:.0f} | < 300 |")
        print(f"| a search typed on the history screen, to its results | {searched:.0f} | < 300 |")
        on = asyncio.run(finish_cost(Path(folder) / "app.db"))
    off = asyncio.run(finish_cost(None))
    print(f"\nUI thread time when an exchange ends (median of 20): history on {on:.2f} ms, off {off:.2f} ms")


if __name__ == "__main__":
    main()
