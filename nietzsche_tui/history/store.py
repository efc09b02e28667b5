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
import json
import sqlite3
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from nietzsche_tui.history.records import Column, StoredExchange
from nietzsche_tui.history.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, statements, tables_and_id

DEFAULT_MAX_EXCHANGES = 10_000


def default_history_path() -> Path:
    """Where the history lives unless ``--history`` says otherwise (the XDG data directory)."""
    import platformdirs

    return platformdirs.user_data_path("nietzsche-tui") / "history.db"


class HistoryError(Exception):
    """The history cannot be used; the message says why (the app runs on without it)."""


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
        tables, application_id = tables_and_id(db)
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
                    for statement in statements(MIGRATIONS[target]):
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
            None if exchange.branch_of is None else json.dumps(exchange.branch_of, ensure_ascii=False),
        )
        with self._lock, self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO exchanges(session_id, created, kind, prompt, prompt_read, dropped, checkpoint_path, "
                "epoch, weights_sha256, mode, temperatures, length, seed, top_k, top_p, columns, branch_of) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
    branch_of = json.loads(row["branch_of"]) if row["branch_of"] else None
    if branch_of is not None and not isinstance(branch_of, dict):
        raise ValueError("a branch link that is not an object")
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
        branch_of=branch_of,
        id=row["id"],
        session_id=row["session_id"],
        created=row["created"],
    )
