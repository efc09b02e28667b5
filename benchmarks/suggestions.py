"""Suggestions as you type: how long a keystroke takes with them on against off, and how long after
the last keystroke the suggestion shows, for both bundled models, in one run.

    uv run python benchmarks/suggestions.py [--repeats 3]

The app runs headless (160×40) with the settings the command line gives (the generation child
included). A sentence is typed one key at a time with a fixed gap between keys: 40 ms (very fast
typing, 300 words a minute), 100 ms (fast) and 250 ms (an ordinary pace). Each key is a Key event
posted to the prompt; "keystroke" is the time until the prompt holds the typed character (the
event handled through Textual's message queue, while any suggestion computes in its thread), the
median and the worst over every key; "suggestion" is the time from the last key until the dimmed
continuation for the whole sentence is on screen; "computed" counts the texts the model was asked
about (the others were typed over within the 60 ms pause). Suggestions off is the baseline,
measured in the same process, alternating with on.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time

from textual import events

SENTENCE = "what is truth? is it not the most"


async def type_sentence(model: str, suggest: bool, gap: float, streaming: bool = False) -> dict:
    from nietzsche_tui.locate import BUNDLED_MODELS
    from nietzsche_tui.tui.app import make_app
    from nietzsche_tui.tui.widgets import prompt as prompt_module

    asked = []
    original = prompt_module.suggest_continuation

    def counting(engine, text, mode="window"):
        asked.append(text)
        return original(engine, text, mode)

    prompt_module.suggest_continuation = counting
    app = make_app(
        checkpoint=str(BUNDLED_MODELS[model]), suggest=suggest, generation_process=True, length=20_000, seed=1
    )
    keystrokes = []
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            while app.engine is None:
                await pilot.pause(0.02)
            await pilot.pause(0.3)
            if streaming:  # four columns of 20,000 characters: they stream for the whole sentence
                app.chat_screen.send("truth is a woman")
                await pilot.pause(0.3)
            prompt = app.prompt_input
            for typed, char in enumerate(SENTENCE, 1):
                started = time.perf_counter()
                prompt.post_message(events.Key("space" if char == " " else char, char))
                while len(prompt.value) < typed:
                    await asyncio.sleep(0.0005)
                keystrokes.append(time.perf_counter() - started)
                if typed < len(SENTENCE):  # after the last key, the clock runs until the suggestion shows
                    await asyncio.sleep(max(0.0, gap - (time.perf_counter() - started)))
            last = started
            shown = None
            if suggest:
                while time.perf_counter() - last < 10:
                    if app.prompt_input.suggestion.startswith(SENTENCE) and len(app.prompt_input.suggestion) > len(
                        SENTENCE
                    ):
                        shown = time.perf_counter() - last
                        break
                    await pilot.pause(0.002)
    finally:
        prompt_module.suggest_continuation = original
        streamed = app.chat.is_generating
    if streaming and not streamed:
        raise RuntimeError("the generation ended before the sentence was typed: make it longer")
    return {"keystroke": statistics.median(keystrokes), "worst": max(keystrokes), "shown": shown, "asked": len(asked)}


async def main_async(repeats: int) -> None:
    print(f"{platform.node()} · {platform.processor() or platform.machine()} · {time.strftime('%Y-%m-%d')}")
    print(f"typing {len(SENTENCE)} characters: {SENTENCE!r}")
    for model in ("book", "large"):
        for gap in (0.04, 0.1, 0.25):
            on, off = [], []
            for _ in range(repeats):
                off.append(await type_sentence(model, False, gap))
                on.append(await type_sentence(model, True, gap))
            key_on = statistics.median(r["keystroke"] for r in on)
            key_off = statistics.median(r["keystroke"] for r in off)
            shown = statistics.median(r["shown"] for r in on if r["shown"] is not None)
            asked = statistics.median(r["asked"] for r in on)
            worst = max(r["worst"] for r in on)
            print(
                f"{model:>5}, {gap * 1000:.0f} ms between keys: keystroke {key_on * 1000:.2f} ms on / "
                f"{key_off * 1000:.2f} ms off ({key_on / key_off:.2f}×, worst {worst * 1000:.1f} ms on); "
                f"suggestion shown {shown * 1000:.0f} ms after the last key; computed for {asked:.0f} of "
                f"{len(SENTENCE)} keystrokes"
            )


async def while_streaming(repeats: int) -> None:
    """Issue 21's question: does typing stay responsive while four columns stream?"""
    for model in ("book", "large"):
        idle, busy = [], []
        for _ in range(repeats):
            idle.append(await type_sentence(model, False, 0.1))
            busy.append(await type_sentence(model, False, 0.1, streaming=True))
        key_idle = statistics.median(r["keystroke"] for r in idle)
        key_busy = statistics.median(r["keystroke"] for r in busy)
        worst = max(r["worst"] for r in busy)
        print(
            f"{model:>5}, typing while four columns stream: keystroke {key_busy * 1000:.2f} ms streaming / "
            f"{key_idle * 1000:.2f} ms idle ({key_busy / key_idle:.2f}×, worst {worst * 1000:.1f} ms streaming)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    asyncio.run(main_async(repeats))
    asyncio.run(while_streaming(repeats))


if __name__ == "__main__":
    main()
