"""/score TEXT in the chat: the quick checks at once, the scoring (up to 10,000 windows) in a
thread worker, the painted text shown when it is done and handed to the app to keep. A mixin of
``ChatScreen``: it uses the screen's ``chat``, ``models`` and its ``ScoreReady`` and ``Scored``
messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.message import Message

from nietzsche_tui.tui.turns import MAX_PROMPT_CHARS, SHOWN_PROMPT_CHARS
from nietzsche_tui.tui.widgets.columns import ScoreView

if TYPE_CHECKING:  # the model maths: a /score runs with a loaded model, by when it is imported
    from nietzsche_tui.engine.analysis import ScoredText
    from nietzsche_tui.engine.generation import Engine
    from nietzsche_tui.engine.prompts import Encoded


class ChatScoring:
    """The chat screen's /score."""

    class ScoreReady(Message):
        """A worker scored a text for /score."""

        def __init__(self, text: str, scored: ScoredText, engine: Engine) -> None:
            super().__init__()
            self.text, self.scored, self.engine = text, scored, engine

    class Scored(Message):
        """A /score is on screen: the app keeps it in the history."""

        def __init__(self, text: str, summary: str, engine: Engine) -> None:
            super().__init__()
            self.text, self.summary, self.engine = text, summary, engine

    def score(self, text: str, engine: Engine | None = None) -> bool:
        """Show ``text`` painted by the model's surprise at each character, with its bits per
        character: all of it, up to MAX_PROMPT_CHARS (beyond, one line says the limit). The
        quick checks run here; the scoring (up to 10,000 windows) in a worker."""
        from nietzsche_tui.engine.analysis import ScoreError, scorable

        engine = engine or self.models.engine
        if engine is None:
            self.notify("No model is loaded yet.", severity="error")
            return False
        if not text.strip():
            self.notify("Type some text after /score: /score TEXT shows how surprised the model is by it.")
            return False
        try:
            encoded = scorable(engine, text, MAX_PROMPT_CHARS, "/score")
        except ScoreError as error:
            longer = " (`nietzsche-tui score FILE` takes longer texts)" if len(text) > MAX_PROMPT_CHARS else ""
            self.notify(f"{error}{longer}", severity="warning", markup=False)
            return False
        self._score_in_thread(text, encoded, engine)
        return True

    @work(thread=True, group="score", exit_on_error=False)
    def _score_in_thread(self, text: str, encoded: Encoded, engine: Engine) -> None:
        from nietzsche_tui.engine.analysis import score_encoded

        self.post_message(self.ScoreReady(text, score_encoded(engine, text, encoded), engine))

    def on_chat_scoring_score_ready(self, message: ChatScoring.ScoreReady) -> None:
        scored, text = message.scored, message.text
        count = len(scored.bits)
        summary = f"{scored.bits_per_char:.2f} bits/char over {count} character{'' if count == 1 else 's'}"
        if scored.skipped:
            summary += f" · skipped {len(scored.skipped)} unknown character(s)"
        checkpoint = message.engine.checkpoint
        where = str(checkpoint.metadata_path) if checkpoint is not None else ""
        shown = f"/score {text[:SHOWN_PROMPT_CHARS]}"
        self.chat.add_score(ScoreView(shown, text, scored.per_position(), summary, where))
        self.post_message(self.Scored(text, summary, message.engine))
