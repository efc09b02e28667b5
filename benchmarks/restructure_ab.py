"""The generation engine before and after the restructuring (issue 20), interleaved.

    git worktree add /tmp/before 35e8ab4   # the tree before: engine.py in one flat folder
    for i in 1 2 3; do
        uv run python benchmarks/restructure_ab.py /tmp/before before
        uv run python benchmarks/restructure_ab.py . after
    done

Characters per second (all columns) for both bundled models in window and stateful mode, and
epochs side by side (four copies of the book model at one temperature), same prompt and seed.
The two trees name their modules differently, hence the two import branches.
"""

from __future__ import annotations

import json
import sys
import time

PROMPT = "the free spirit, the very free spirit, as they call themselve"


def chars_per_second(generation) -> float:
    started = time.perf_counter()
    steps = list(generation)
    return len(steps) * len(steps[0].chars) / (time.perf_counter() - started)


def main() -> None:
    root, which = sys.argv[1], sys.argv[2]
    sys.path.insert(0, root)
    if which == "before":
        from nietzsche_tui.weights import load_weights

        from nietzsche_tui.engine import BUNDLED_MODELS, Engine, GenerationRequest, generate_epochs

        def copies(engine):
            return [Engine(engine.checkpoint, load_weights(engine.checkpoint)) for _ in range(4)]
    else:
        from nietzsche_tui.engine.epochs import generate_epochs
        from nietzsche_tui.engine.generation import Engine, GenerationRequest
        from nietzsche_tui.engine.weights import load_weights
        from nietzsche_tui.locate import BUNDLED_MODELS

        def copies(engine):
            return [Engine.of(engine.checkpoint, load_weights(engine.checkpoint)) for _ in range(4)]

    figures = {}
    for name in ("book", "large"):
        engine = Engine.load(BUNDLED_MODELS[name])
        for mode, length in (("window", 200 if name == "book" else 60), ("stateful", 400)):
            request = GenerationRequest(PROMPT, length=length, seed=1, mode=mode)
            figures[f"{name} {mode}"] = chars_per_second(engine.generate(request))
        if name == "book":
            request = GenerationRequest(PROMPT, (0.5,), length=200, seed=1)
            figures["book epochs window"] = chars_per_second(generate_epochs(copies(engine), request))
    print(json.dumps({which: {k: round(v) for k, v in figures.items()}}))


if __name__ == "__main__":
    main()
