"""The training text as a checkpoint records it: how a corpus is read, and what its sha256 means.

The trainer reads its corpus with ``read_corpus`` and records ``corpus_sha256`` of what it read;
the app reads a corpus the same way to find the text a model was trained on (the verbatim view)
and checks it against that record, so the two sides agree on "the same text" by construction.
The digest is of the text as read (UTF-8, a byte-order mark dropped, several sources joined with a
blank line), before lowercasing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

SOURCES_JOINED_BY = "\n\n"


class CorpusError(Exception):
    """A corpus that cannot be used; the message says what is wrong and what to do."""


def corpus_sha256(raw: str) -> str:
    """The digest a checkpoint records for the text it was trained on."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def read_text(path: str | Path) -> str:
    """Read a UTF-8 file, raising CorpusError that names the problem (and the byte, if any)."""
    target = Path(path).expanduser()
    try:
        data = target.read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"corpus {target} does not exist; check the --corpus path.") from None
    except IsADirectoryError:
        raise CorpusError(
            f"corpus {target} is a folder; --corpus needs a text file or a folder of .txt files."
        ) from None
    except OSError as error:
        raise CorpusError(f"cannot read corpus {target}: {error.strerror or error}.") from None
    try:
        # utf-8-sig: a byte-order mark some editors put first is not text to learn (U+FEFF).
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CorpusError(
            f"corpus {target} is not UTF-8: byte 0x{data[error.start]:02x} at offset {error.start} "
            f"(line {line}); convert it, e.g. `iconv -f latin1 -t utf-8`."
        ) from None


def read_corpus(path: str | Path) -> str:
    """A text file, or a folder's ``.txt`` files in name order joined with a blank line."""
    target = Path(path).expanduser()
    if not target.is_dir():
        return read_text(target)
    files = sorted(p for p in target.iterdir() if p.suffix == ".txt" and p.is_file())
    if not files:
        raise CorpusError(f"corpus folder {target} holds no .txt files.")
    return SOURCES_JOINED_BY.join(read_text(file) for file in files)
