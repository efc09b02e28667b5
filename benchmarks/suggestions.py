"""Suggestions as you type: how long a keystroke takes with them on against off, and how long after
the last keystroke the suggestion shows, for both bundled models, in one run.

    uv run python benchmarks/suggestions.py [--repeats 3]

The app runs headless (160×40) with the settings the command line gives (the generation child
included). A sentence is typed one key at a time with a fixed gap between keys: 60 ms (fast
typing, about 200 words a minute) and 250 ms (an ordinary pace). "keystroke" is the time the
app takes to handle one key press (Textual's pilot returns once it is processed), as a median
over every key; "suggestion" is the time from the last key until the dimmed continuation for the
whole sentence is on screen; "computed" counts the keystrokes whose text the model was asked
about (the others were typed over within the 60 ms pause). Suggestions off is the baseline,
measured in the same process, alternating with on.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time

SENTENCE = "what is truth? is it not the most"


async def type_sentence(model: str, suggest: bool, gap: float) -> dict:
    from nietzsche_tui.locate import BUNDLED_MODELS
    from nietzsche_tui.tui.app import make_app
    from nietzsche_tui.tui.widgets import prompt as prompt_module

    asked = []
    original = prompt_module.suggest_continuation

    def counting(engine, text, mode="window"):
        asked.append(text)
        return original(engine, text, mode)

    prompt_module.suggest_continuation = counting
    app = make_app(checkpoint=str(BUNDLED_MODELS[model]), suggest=suggest, generation_process=True)
    keystrokes = []
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            while app.engine is None:
                await pilot.pause(0.02)
            await pilot.pause(0.3)
            for char in SENTENCE:
                started = time.perf_counter()
                await pilot.press("space" if char == " " else char)
                keystrokes.append(time.perf_counter() - started)
                await asyncio.sleep(gap)
            last = time.perf_counter() - gap
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
    return {"keystroke": statistics.median(keystrokes), "worst": max(keystrokes), "shown": shown, "asked": len(asked)}


async def main_async(repeats: int) -> None:
    print(f"{platform.node()} · {platform.processor() or platform.machine()} · {time.strftime('%Y-%m-%d')}")
    print(f"typing {len(SENTENCE)} characters: {SENTENCE!r}")
    for model in ("book", "large"):
        for gap in (0.06, 0.25):
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
                f"{model:>5}, {gap * 1000:.0f} ms between keys: keystroke {key_on * 1000:.1f} ms on / "
                f"{key_off * 1000:.1f} ms off ({key_on / key_off:.2f}×, worst {worst * 1000:.0f} ms on); "
                f"suggestion shown {shown * 1000:.0f} ms after the last key; computed for {asked:.0f} of "
                f"{len(SENTENCE)} keystrokes"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    asyncio.run(main_async(parser.parse_args().repeats))


if __name__ == "__main__":
    main()
