"""The conversation history: an embedded SQLite database of sessions and their exchanges.

One file (default ``platformdirs.user_data_path("nietzsche-tui") / "history.db"``), WAL mode so
two app instances can write to it at once, a schema version in ``PRAGMA user_version`` with a
migration for every version since the first, and an application id so a database of another
program is never mistaken for ours. SQL only with parameters. Nothing here imports Textual.

What is stored per exchange: when; the prompt as typed and as the model read it (and the
characters it dropped); the kind (temperatures side by side, epochs side by side, a /score); the
checkpoint (path, epoch, sha256 of its weights); mode, temperatures, length, seed, top-k, top-p;
and each column's label, temperature, epoch, text and state (done, stopped or failed).

A store that cannot be used never stops the app: ``open_history`` moves a damaged file of ours
aside (``history.db.corrupt-<time>``, with its ``-wal`` and ``-shm``) and starts a fresh one, and
returns None, with the reason, for a location that cannot be written or a database of another
program, which is never touched. ``read_history`` (the ``history`` and ``export`` commands) opens
read-only: it never moves, creates or writes anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

APPLICATION_ID = 0x4E5A5448  # "NZTH": marks the file as ours
SCHEMA_VERSION = 3
DEFAULT_MAX_EXCHANGES = 10_000
KINDS = ("temperatures", "epochs", "score")


def default_history_path() -> Path:
    """Where the history lives unless ``--history`` says otherwise (the XDG data directory)."""
    import platformdirs

    return platformdirs.user_data_path("nietzsche-tui") / "history.db"


# Each migration takes the database from the version before it to its own number. Version 1 is
# the first release of the store; version 2 added full-text search over prompts and outputs;
# version 3 indexes every character (FTS5's trigram tokenizer: unicode61 dropped symbols such as
# "☃", so a search for one found nothing).
MIGRATIONS: dict[int, str] = {
    1: """
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            started REAL NOT NULL,
            app_version TEXT NOT NULL
        );
        CREATE TABLE exchanges (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            created REAL NOT NULL,
            kind TEXT NOT NULL,
            prompt TEXT NOT NULL,
            prompt_read TEXT NOT NULL,
            dropped TEXT NOT NULL,
            checkpoint_path TEXT NOT NULL,
            epoch INTEGER,
            weights_sha256 TEXT,
            mode TEXT NOT NULL,
            temperatures TEXT NOT NULL,
            length INTEGER NOT NULL,
            seed INTEGER,
            top_k INTEGER,
            top_p REAL,
            columns TEXT NOT NULL
        );
        CREATE INDEX exchanges_by_session ON exchanges(session_id, id);
    """,
    2: """
        CREATE VIRTUAL TABLE exchanges_text USING fts5(prompt, output, tokenize = 'unicode61');
        INSERT INTO exchanges_text(rowid, prompt, output)
            SELECT id, prompt, (SELECT group_concat(json_extract(value, '$.text'), ' ')
                                FROM json_each(exchanges.columns))
            FROM exchanges;
    """,
    3: """
        DROP TABLE exchanges_text;
        CREATE VIRTUAL TABLE exchanges_text USING fts5(prompt, output, tokenize = 'trigram');
        INSERT INTO exchanges_text(rowid, prompt, output)
            SELECT id, prompt, (SELECT group_concat(json_extract(value, '$.text'), ' ')
                                FROM json_each(exchanges.columns))
            FROM exchanges;
    """,
}


class HistoryError(Exception):
    """The history cannot be used; the message says why (the app runs on without it)."""


@dataclass
class Column:
    """One column of a stored exchange."""

    label: str
    text: str
    state: str = "done"  # done, stopped or failed
    temperature: float | None = None
    epoch: int | None = None


@dataclass
class StoredExchange:
    """Everything needed to show, replay and export one exchange."""

    kind: str
    prompt: str
    prompt_read: str
    dropped: list[str]
    checkpoint_path: str
    epoch: int | None
    weights_sha256: str | None
    mode: str
    temperatures: list[float]
    length: int
    seed: int | None
    top_k: int | None
    top_p: float | None
    columns: list[Column]
    id: int | None = None
    session_id: int | None = None
    created: float = 0.0

    def output(self) -> str:
        return " ".join(column.text for column in self.columns)

    def to_json(self) -> dict[str, Any]:
        """The exchange as JSON; each column in the shape of one ``generate --json`` object."""
        return {
            "id": self.id,
            "session": self.session_id,
            "created": self.created,
            "kind": self.kind,
            "prompt_typed": self.prompt,
            "dropped": self.dropped,
            "weights_sha256": self.weights_sha256,
            "columns": [
                {
                    "label": column.label,
                    "state": column.state,
                    "temperature": column.temperature,
                    "text": column.text,
                    "prompt": self.prompt_read,
                    "seed": self.seed,
                    "mode": self.mode,
                    "length": self.length,
                    "top_k": self.top_k,
                    "top_p": self.top_p,
                    "checkpoint": self.checkpoint_path,
                    "epoch": column.epoch if column.epoch is not None else self.epoch,
                    "dropped": self.dropped,
                }
                for column in self.columns
            ],
        }


_HASHES: dict[tuple[str, int, int], str] = {}


def weights_sha256(path: str | Path) -> str | None:
    """The sha256 of a checkpoint's weights file (cached by path, size and time), or None."""
    try:
        stat = Path(path).stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in _HASHES:
            _HASHES[key] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        return _HASHES[key]
    except OSError:
        return None


class ForeignDatabase(HistoryError):
    """A SQLite database that is not a nietzsche-tui history: refused, never touched."""


class HistoryStore:
    """A connection to one history database, safe to use from the app's threads (one lock).

    ``read_only``: opened with SQLite's ``mode=ro`` (the listing commands): no schema is written,
    no migration run, no journal mode changed; a file that is not ours raises, untouched.
    """

    def __init__(
        self,
        path: str | Path,
        max_exchanges: int = DEFAULT_MAX_EXCHANGES,
        evict_own_only: bool = False,
        read_only: bool = False,
        busy_seconds: float = 10.0,
    ) -> None:
        self.path = Path(path)
        self.max_exchanges = max_exchanges
        # Served, one database holds many visitors: the cap counts and evicts this session's alone.
        self.evict_own_only = evict_own_only
        self.read_only = read_only
        self.trigram = True  # set from the schema version when opened
        self.skipped = 0  # rows that could not be read (a damaged row is counted, never fatal)
        self._lock = threading.Lock()
        target = f"{self.path.resolve().as_uri()}?mode=ro" if read_only else str(self.path)
        self._connection = sqlite3.connect(
            target, timeout=busy_seconds, check_same_thread=False, isolation_level=None, uri=read_only
        )
        self._connection.row_factory = sqlite3.Row
        try:
            self._prepare(busy_seconds)
        except BaseException:
            self._connection.close()
            raise
        self.session_id: int | None = None

    def _prepare(self, busy_seconds: float) -> None:
        db = self._connection
        db.execute(f"PRAGMA busy_timeout = {int(busy_seconds * 1000)}")
        tables, application_id = _tables_and_id(db)
        if application_id != APPLICATION_ID and tables:
            raise ForeignDatabase(
                f"{self.path} is a database of another program (left as it is); name another file with --history"
            )
        if self.read_only:
            if not tables:
                raise HistoryError(f"{self.path} holds no history yet (the app writes it as you chat)")
            self._check_version()
            return
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError(f"{self.path} failed SQLite's integrity check")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA foreign_keys = ON")
        self.migrate()

    def _check_version(self) -> int:
        version = self._connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"{self.path} was written by a newer nietzsche-tui (schema {version}, this one reads "
                f"{SCHEMA_VERSION}); upgrade, or use another file with --history"
            )
        if self.read_only and version < 2:
            raise HistoryError(f"{self.path} has an older schema ({version}); open the app on it once to upgrade it")
        self.trigram = version >= 3  # read-only on schema 2: searched with LIKE (no migration is written)
        return version

    def migrate(self) -> int:
        """Apply every migration after the database's version, each in its own transaction."""
        db = self._connection
        version = self._check_version()
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._transaction():
                current = db.execute("PRAGMA user_version").fetchone()[0]
                if current < target:  # another instance may have migrated meanwhile
                    for statement in _statements(MIGRATIONS[target]):
                        db.execute(statement)
                    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    db.execute(f"PRAGMA user_version = {target}")
        return SCHEMA_VERSION

    @contextlib.contextmanager
    def _transaction(self):
        """One write transaction, taken at once (IMMEDIATE) so two instances queue instead of failing."""
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            yield self._connection
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        self._connection.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    # -- writing -----------------------------------------------------------------------------

    def start_session(self, app_version: str) -> int:
        with self._lock:
            cursor = self._connection.execute(
                "INSERT INTO sessions(started, app_version) VALUES (?, ?)", (time.time(), app_version)
            )
            self.session_id = int(cursor.lastrowid)
            return self.session_id

    def add(self, exchange: StoredExchange) -> int:
        """Store one exchange in the current session (and drop the oldest beyond the cap)."""
        if self.session_id is None:
            raise HistoryError("no session started")
        columns = json.dumps([asdict(column) for column in exchange.columns], ensure_ascii=False)
        values = (
            self.session_id,
            exchange.created or time.time(),
            exchange.kind,
            exchange.prompt,
            exchange.prompt_read,
            json.dumps(exchange.dropped, ensure_ascii=False),
            exchange.checkpoint_path,
            exchange.epoch,
            exchange.weights_sha256,
            exchange.mode,
            json.dumps(exchange.temperatures),
            exchange.length,
            exchange.seed,
            exchange.top_k,
            exchange.top_p,
            columns,
        )
        with self._lock, self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO exchanges(session_id, created, kind, prompt, prompt_read, dropped, checkpoint_path, "
                "epoch, weights_sha256, mode, temperatures, length, seed, top_k, top_p, columns) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            exchange_id = int(cursor.lastrowid)
            db.execute(
                "INSERT INTO exchanges_text(rowid, prompt, output) VALUES (?, ?, ?)",
                (exchange_id, exchange.prompt, exchange.output()),
            )
            self._trim()
        exchange.id, exchange.session_id = exchange_id, self.session_id
        return exchange_id

    def _trim(self) -> None:
        mine = "WHERE session_id = ?" if self.evict_own_only else ""
        scope = (self.session_id,) if self.evict_own_only else ()
        count = self._connection.execute(f"SELECT count(*) FROM exchanges {mine}", scope).fetchone()[0]
        excess = count - self.max_exchanges
        if excess > 0:
            rows = self._connection.execute(f"SELECT id FROM exchanges {mine} ORDER BY id LIMIT ?", (*scope, excess))
            old = [row[0] for row in rows]
            self._delete_ids(old)

    def _delete_ids(self, ids: list[int]) -> None:
        for exchange_id in ids:
            self._connection.execute("DELETE FROM exchanges WHERE id = ?", (exchange_id,))
            self._connection.execute("DELETE FROM exchanges_text WHERE rowid = ?", (exchange_id,))
        self._connection.execute(
            "DELETE FROM sessions WHERE id NOT IN (SELECT DISTINCT session_id FROM exchanges) AND id != ?",
            (self.session_id or -1,),
        )

    def delete(self, exchange_id: int) -> None:
        with self._lock, self._transaction():
            self._delete_ids([exchange_id])

    # -- reading -----------------------------------------------------------------------------

    def exchanges(
        self, search: str | None = None, session: int | None = None, limit: int | None = 200
    ) -> list[StoredExchange]:
        """Exchanges newest first: all, one session's, or those matching ``search`` (every word,
        in the prompt or any output)."""
        where, values = [], []
        for word in (search or "").split():
            # Every word, anywhere in the prompt or an output, any case: a trigram MATCH for three
            # characters or more, LIKE below that (a trigram index holds no shorter terms).
            if self.trigram and len(word) >= 3:
                where.append("id IN (SELECT rowid FROM exchanges_text WHERE exchanges_text MATCH ?)")
                values.append(fts_query(word))
            else:
                like = "prompt LIKE ? ESCAPE '!' OR output LIKE ? ESCAPE '!'"
                where.append(f"id IN (SELECT rowid FROM exchanges_text WHERE {like})")
                pattern = "%" + word.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
                values += [pattern, pattern]
        if session is not None:
            where.append("session_id = ?")
            values.append(session)
        sql = "SELECT * FROM exchanges" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            values.append(limit)
        with self._lock:
            rows = self._connection.execute(sql, values).fetchall()
        return self._readable(rows)

    def _readable(self, rows: list[sqlite3.Row]) -> list[StoredExchange]:
        """The rows as exchanges; a malformed row (bad JSON, a wrong field) is skipped and counted."""
        exchanges = []
        for row in rows:
            try:
                exchanges.append(_from_row(row))
            except (ValueError, TypeError, KeyError, AttributeError):
                self.skipped += 1
        return exchanges

    def sessions(self) -> list[dict[str, Any]]:
        """Sessions newest first, with how many exchanges each kept."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT s.id, s.started, s.app_version, count(e.id) AS exchanges FROM sessions s "
                "LEFT JOIN exchanges e ON e.session_id = s.id GROUP BY s.id ORDER BY s.id DESC"
            ).fetchall()
        return [dict(row) for row in rows]

    def last_session(self, before: int | None = None) -> int | None:
        """The newest session with exchanges (other than ``before``, the current one)."""
        with self._lock:
            row = self._connection.execute(
                "SELECT session_id FROM exchanges WHERE session_id != ? ORDER BY id DESC LIMIT 1", (before or -1,)
            ).fetchone()
        return None if row is None else int(row[0])


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


def fts_query(words: str) -> str:
    """Every word of ``words`` as a quoted FTS5 term: user text is never FTS syntax."""
    terms = ['"' + word.replace('"', '""') + '"' for word in words.split()]
    return " AND ".join(terms)


def _from_row(row: sqlite3.Row) -> StoredExchange:
    """One row as an exchange; ValueError or TypeError when a field is not what we write."""
    columns, dropped, temperatures = (json.loads(row[name]) for name in ("columns", "dropped", "temperatures"))
    if not all(isinstance(value, list) for value in (columns, dropped, temperatures)):
        raise ValueError("a list field that is not a list")
    columns = [Column(**column) for column in columns]
    if not all(isinstance(column.text, str) and isinstance(column.label, str) for column in columns):
        raise ValueError("a column without text")
    return StoredExchange(
        kind=row["kind"],
        prompt=row["prompt"],
        prompt_read=row["prompt_read"],
        dropped=dropped,
        checkpoint_path=row["checkpoint_path"],
        epoch=row["epoch"],
        weights_sha256=row["weights_sha256"],
        mode=row["mode"],
        temperatures=temperatures,
        length=row["length"],
        seed=row["seed"],
        top_k=row["top_k"],
        top_p=row["top_p"],
        columns=columns,
        id=row["id"],
        session_id=row["session_id"],
        created=row["created"],
    )


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
                tables, application_id = _tables_and_id(look)
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


def _tables_and_id(db: sqlite3.Connection) -> tuple[int, int]:
    """How many schema entries the database has and its application id, read in one statement (one
    read transaction): two statements could straddle another instance's first migration and see
    its tables without its id, taking our own new database for another program's."""
    row = db.execute(
        "SELECT (SELECT count(*) FROM sqlite_master), (SELECT application_id FROM pragma_application_id())"
    ).fetchone()
    return int(row[0]), int(row[1])


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


# ---------------------------------------------------------------------------------------------
# Export


def shown_name(path: str | Path) -> str:
    """A path as a served app shows it: its folder's name and its own (``model/epoch_0080.json``)."""
    path = Path(path)
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text``."""
    longest = max((len(run) for run in text.split("\n") for run in _backtick_runs(run)), default=0)
    return "`" * max(3, longest + 1)


def _backtick_runs(line: str) -> list[str]:
    runs, current = [], ""
    for char in line:
        if char == "`":
            current += "`"
        elif current:
            runs.append(current)
            current = ""
    return runs + ([current] if current else [])


def to_markdown(exchanges: list[StoredExchange], title: str, full_paths: bool = True) -> str:
    """Exchanges as Markdown that reads well on GitHub: the prompt, then a section per column.

    ``full_paths=False`` (a served app's export) names each checkpoint by its folder and file
    only: where it lives on the operator's disk is not the visitor's business."""
    lines = [f"# {title}", ""]
    for number, exchange in enumerate(exchanges, 1):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(exchange.created))
        lines += [f"## {number}. {exchange.prompt.splitlines()[0][:80] if exchange.prompt else '(empty)'}", ""]
        fence = _fence(exchange.prompt)
        lines += [f"Prompt ({when}):", "", fence, exchange.prompt, fence, ""]
        sha = f", weights sha256 `{exchange.weights_sha256[:12]}…`" if exchange.weights_sha256 else ""
        where = exchange.checkpoint_path if full_paths else shown_name(exchange.checkpoint_path)
        details = f"{exchange.kind} · checkpoint `{where}` (epoch {exchange.epoch}{sha})"
        if exchange.kind != "score":
            details += f" · seed {exchange.seed} · {exchange.mode} · {exchange.length} characters"
        if exchange.dropped:
            details += f" · dropped {', '.join(repr(c) for c in exchange.dropped)}"
        lines += [details, ""]
        for column in exchange.columns:
            state = "" if column.state == "done" else f" ({column.state})"
            fence = _fence(column.text)
            lines += [f"### {column.label}{state}", "", fence + "text", column.text, fence, ""]
    return "\n".join(lines)
