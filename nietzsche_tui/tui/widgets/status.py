"""The chat's status line: the model, the settings and the live speed, fitted to the width."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from nietzsche_tui.engine.prompts import describe_characters


def prompt_notice(dropped: Sequence[str], cut: int) -> str:
    """What the user should know about how their prompt was read."""
    parts = []
    if dropped:
        parts.append(f"dropped unknown characters {describe_characters(list(dropped), limit=8)}")
    if cut:
        parts.append(f"used the last {cut} characters of a long prompt")
    return "; ".join(parts)


class StatusBar(Static):
    """One line: the column shown alone, state, checkpoint, seed, mode and speed, fitted to the width.

    Parts are listed most important first. When the line is too long, the checkpoint switches to
    its short form, then the least important parts are dropped, so the state and the column shown
    are always readable, at any width.
    """

    def show(
        self,
        checkpoint: tuple[str, str],
        mode: str,
        seed: int | None,
        state: str,
        speed: float | None,
        column: str | None = None,
    ) -> None:
        long_name, short_name = checkpoint
        parts = [column, state, long_name, f"seed {seed}" if seed is not None else "seed —", f"mode {mode}"]
        if speed is not None:
            parts.append(f"{speed:,.0f} chars/s")
        parts = [part for part in parts if part]
        self.update(Text(fit_parts(parts, self.content_size.width or 200, {long_name: short_name})), layout=False)


def fit_parts(parts: list[str], width: int, shorter: dict[str, str], separator: str = " · ") -> str:
    """Join ``parts`` within ``width`` cells: use the shorter forms, then drop parts from the end."""
    parts = list(parts)
    if len(separator.join(parts)) > width:
        parts = [shorter.get(part, part) for part in parts]
    while len(parts) > 1 and len(separator.join(parts)) > width:
        parts.pop()
    return separator.join(parts)[:width]
