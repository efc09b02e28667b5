"""What the model would write next, to the end of the next word: the suggestion shown as you type.

Greedy (temperature 0), so the same text always gets the same suggestion and accepting it word by
word continues the same way; at most ``MAX_SUGGESTION_CHARS`` characters, ended before the space
that follows the first word (a half-typed word is finished; after a space, the next word comes).
"""

from __future__ import annotations

from nietzsche_tui.engine.generation import Engine, GenerationRequest
from nietzsche_tui.engine.prompts import PromptError

MAX_SUGGESTION_CHARS = 30


def suggest_continuation(engine: Engine, text: str, mode: str = "window", limit: int = MAX_SUGGESTION_CHARS) -> str:
    """The model's likeliest continuation of ``text`` up to the end of the next word ("" when
    ``text`` holds nothing the model can read). The prompt is read as a prompt is: unknown
    characters dropped, lowercased when the model is."""
    try:
        generation = engine.generate(GenerationRequest(text, (0.0,), limit, seed=0, mode=mode))
    except PromptError:
        return ""
    written: list[str] = []
    for step in generation:
        char = step.chars[0]
        if char.isspace() and any(not c.isspace() for c in written):
            break  # the word is complete: the generator stops here (it is lazy)
        if char == "\n" and not written:
            break  # a suggestion is one line: never start it with a line break
        written.append(char)
    return "".join(written)
