"""Showing model and user text on a terminal safely.

A checkpoint's vocabulary is whatever its corpus held, control characters included (ESC, BEL,
a stray carriage return). Written raw, those bytes move the cursor, ring the bell or start escape
sequences, and break the layout of the app and of ``generate``. Everything shown to a person goes
through ``visible``; the true characters are kept everywhere else (``--json``, the stored text).
"""

from __future__ import annotations

# C0 controls become their Unicode "control pictures" (ESC → ␛, BEL → ␇), DEL becomes ␡; the C1
# controls have no pictures, so they become the replacement character. Bidirectional overrides
# can reorder a whole line of the terminal, so they are shown as a marker too.
_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)}
_PICTURES[0x7F] = "\u2421"
_PICTURES.update({code: "\ufffd" for code in range(0x80, 0xA0)})
_PICTURES.update({code: "\u2195" for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})

_KEEP_LAYOUT = {ord("\n"), ord("\t")}  # newlines and tabs are part of the text's shape
VISIBLE = str.maketrans({code: picture for code, picture in _PICTURES.items() if code not in _KEEP_LAYOUT})
VISIBLE_ONE_LINE = str.maketrans({**_PICTURES, ord("\n"): "\u21b5", ord("\t"): " "})

# A pasted newline, shown inside the one-line prompt; turned back into "\n" on submit.
PASTED_NEWLINE = "\u21b5"


def visible(text: str) -> str:
    """``text`` with control characters replaced by visible symbols; newlines and tabs kept."""
    return text.translate(VISIBLE)


def visible_one_line(text: str) -> str:
    """``text`` on one line: controls as symbols, newlines as ↵, tabs as spaces."""
    return text.translate(VISIBLE_ONE_LINE)


def control_characters(characters: str | list[str]) -> list[str]:
    """The characters among ``characters`` that ``visible`` would replace (for warnings)."""
    return [c for c in characters if c.translate(VISIBLE) != c]
