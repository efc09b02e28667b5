"""Argument types shared by every ``nietzsche-tui`` command line (argparse calls them; a bad value
is one line naming the flag, never a silent clamp)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def whole_number(minimum: int, meaning: str | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``; ``meaning`` says the smallest in
    words when it means something ("0 (all)")."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {meaning or minimum} or more, got {value}")
        return value

    return parse
