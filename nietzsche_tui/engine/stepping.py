"""Writing one character at a time with the model (step mode): at each step the likeliest next
characters with their probabilities, the one the sampler would take, and the text so far.

A plain record over the engine (no Textual): the step screen shows it, a thread computes each
step's distribution. The sampler draws with the session's seed, one draw per step, as a
generation does, so Enter at every step writes what ``generate --temperatures T --seed S`` would
have written from the same prompt (until a choice differs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nietzsche_tui.engine.generation import Engine, column_streams
from nietzsche_tui.engine.prompts import Prompt, PromptError
from nietzsche_tui.engine.sampling import reweight_distribution, sample_with_draw

CHOICES = 9  # one digit each


@dataclass(frozen=True)
class StepChoices:
    """One step: the listed characters (most likely first) with their probabilities before and
    after the temperature, and the character the sampler drew."""

    top: list[tuple[str, float, float]]
    sampled: str


@dataclass
class StepSession:
    """A prompt, a temperature and seed, and the characters chosen so far."""

    engine: Engine
    prompt: Prompt
    temperature: float
    seed: int
    text: str = ""
    _rng: np.random.Generator = field(init=False, repr=False)
    _draws: list[float] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        (self._rng,) = column_streams(self.seed, 1)

    @classmethod
    def start(cls, engine: Engine, prompt_text: str, temperature: float, seed: int) -> StepSession:
        """Raises PromptError when the prompt holds nothing the model can read."""
        return cls(engine, engine.prepare_prompt(prompt_text), temperature, seed)

    def choices(self, text: str | None = None, count: int = CHOICES) -> StepChoices:
        """The choices after ``text`` (default: the text so far), running the model once: call
        it in a thread, with the text as it was when asked (the screen may take a key meanwhile)."""
        engine = self.engine
        text = self.text if text is None else text
        indices = np.concatenate([self.prompt.indices, [engine.vocabulary.index(c) for c in text]])
        window = indices[-engine.maxlen :].astype(np.int64)
        probabilities = engine.window_probabilities(window[None, :])[0]
        tempered = reweight_distribution(probabilities, self.temperature)
        order = np.argsort(-probabilities, kind="stable")[:count]
        top = [(engine.vocabulary[i], float(probabilities[i]), float(tempered[i])) for i in order]
        # One draw per step, kept for the step: undoing and coming back offers the same character.
        step = len(text)
        while len(self._draws) <= step:
            self._draws.append(float(self._rng.random()))
        drawn = sample_with_draw(probabilities, self.temperature, self._draws[step])
        return StepChoices(top, engine.vocabulary[drawn])

    def take(self, char: str) -> None:
        """Append a character (the sampled one, a listed one or the user's own)."""
        if char not in self.engine.vocabulary:
            raise PromptError(f"the model does not know {char!r}")
        self.text += char

    def undo(self) -> None:
        self.text = self.text[:-1]
