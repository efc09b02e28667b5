"""Opening a history file safely: ours, damaged (set aside), or another program's (never touched)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from nietzsche_tui.history.schema import APPLICATION_ID, tables_and_id
from nietzsche_tui.history.store import DEFAULT_MAX_EXCHANGES, ForeignDatabase, HistoryError, HistoryStore


def open_history(
    path: str | Path,
    max_exchanges: int = DEFAULT_MAX_EXCHANGES,
    evict_own_only: bool = False,
    default_location: bool = False,
) -> tuple[HistoryStore | None, str | None]:
    """Open (or create) the app's store; return it and a notice for the user, or (None, why not).

    A damaged file of ours (our application id in its header, or anything at the app's own
    ``default_location``) is moved aside with its ``-wal`` and ``-shm`` and a fresh one started.
    Anything else that is not a history of ours (another program's database, a file that is not
    SQLite at a path the user named) is refused and never touched.
    """
    target = Path(path).expanduser()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return None, f"history is off: cannot create {target.parent} ({error.strerror or error})"
    refusal = _not_ours(target, default_location)
    if refusal:
        return None, f"history is off: {refusal}"
    notice = None
    for attempt in range(2):
        try:
            return HistoryStore(target, max_exchanges, evict_own_only), notice
        except HistoryError as error:
            return None, f"history is off: {error}"
        except sqlite3.DatabaseError as error:
            if attempt or (isinstance(error, sqlite3.OperationalError) and _unwritable(error)):
                return None, f"history is off: {target} cannot be used ({error})"
            if not (default_location or _has_our_header(target)):
                return None, f"history is off: {target} is not a nietzsche-tui history ({error}; left as it is)"
            aside = target.with_name(f"{target.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                target.replace(aside)
                for suffix in ("-wal", "-shm"):  # kept beside it: the WAL may hold its newest rows
                    companion = Path(str(target) + suffix)
                    if companion.exists():
                        companion.replace(Path(str(aside) + suffix))
            except OSError as move_error:
                return None, f"history is off: {target} is damaged and cannot be moved aside ({move_error})"
            notice = f"The history file was damaged ({error}); it was moved to {aside} and a new one started."
        except OSError as error:
            return None, f"history is off: {target} cannot be used ({error})"
    return None, "history is off"


def read_history(path: str | Path, busy_seconds: float = 2.0) -> HistoryStore:
    """The store, read-only, for the listing commands: raises HistoryError with one line for a
    missing, empty, foreign, newer, locked or damaged file, and never writes, moves or creates."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise HistoryError(f"{target} is a folder, not a history database")
    if not target.exists():
        raise HistoryError(f"no history at {target} yet (the app writes it as you chat)")
    if target.stat().st_size == 0:
        raise HistoryError(f"{target} holds no history yet (the app writes it as you chat)")
    if not _has_our_header(target):
        raise ForeignDatabase(f"{target} is not a nietzsche-tui history (left as it is); name another with --history")
    try:
        return HistoryStore(target, read_only=True, busy_seconds=busy_seconds)
    except sqlite3.OperationalError as error:
        if "locked" in str(error).lower() or "busy" in str(error).lower():
            raise HistoryError(f"{target} is locked by another program; try again when it is done") from None
        raise HistoryError(f"{target} cannot be read ({error})") from None
    except sqlite3.DatabaseError as error:
        raise HistoryError(f"{target} is damaged ({error}); open the app on it to set it aside") from None


def _not_ours(path: Path, default_location: bool) -> str | None:
    """Why the file at ``path`` is not a history of ours, or None when it may be: judged from its
    header where that says so, else from a read-only look at its tables (nothing written)."""
    try:
        with open(path, "rb") as stream:
            header = stream.read(100)
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"{path} cannot be read ({error.strerror or error})"
    if not header or _has_our_header(path, header):
        return None
    if header.startswith(b"SQLite format 3\0"):
        try:
            look = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
            try:
                tables, application_id = tables_and_id(look)
                ours = application_id == APPLICATION_ID
            finally:
                look.close()
        except sqlite3.DatabaseError:
            return None  # too damaged to tell: the open below decides (and sets aside only ours)
        if tables and not ours:
            return f"{path} is a database of another program (left as it is); name another file with --history"
        return None  # ours, or an SQLite file with no table yet (another instance may be creating it)
    if default_location:
        return None  # garbage where only we write: a damaged history of ours, set aside below
    return f"{path} is not a nietzsche-tui history (left as it is); name another file with --history"


def _has_our_header(path: Path, header: bytes | None = None) -> bool:
    """Whether the database's first page carries our application id (bytes 68-71), read as bytes
    (a database too damaged for SQLite to open can still be recognised as ours): in the main file
    (its first 100 bytes, ``header`` when the caller has read them), or, for a WAL database not yet
    checkpointed, in the newest copy of page 1 in its ``-wal``."""
    if header is None:
        try:
            with open(path, "rb") as stream:
                header = stream.read(100)
        except OSError:
            return False
    if not header.startswith(b"SQLite format 3\0"):
        return False
    if int.from_bytes(header[68:72], "big") == APPLICATION_ID:
        return True
    page_one = _newest_wal_page_one(Path(f"{path}-wal"))
    return page_one is not None and int.from_bytes(page_one[68:72], "big") == APPLICATION_ID


def _newest_wal_page_one(wal: Path) -> bytes | None:
    """The first 100 bytes of the newest page-1 frame in a WAL file (a 32-byte header, then frames
    of a 24-byte header, whose first 4 bytes are the page number, and one page), or None."""
    try:
        with open(wal, "rb") as stream:
            header = stream.read(32)
            if len(header) < 32:
                return None
            page_size = int.from_bytes(header[8:12], "big")
            if not 512 <= page_size <= 65536:
                return None
            newest = None
            while len(frame := stream.read(24)) == 24:
                page = stream.read(page_size)
                if len(page) < 100:
                    break
                if int.from_bytes(frame[:4], "big") == 1:
                    newest = page[:100]
            return newest
    except OSError:
        return None


def _unwritable(error: sqlite3.OperationalError) -> bool:
    message = str(error).lower()
    return any(words in message for words in ("readonly", "read-only", "unable to open", "disk", "full", "locked"))
