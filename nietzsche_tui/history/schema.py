"""The history database's schema: its application id, its version, and one migration per version."""

from __future__ import annotations

import sqlite3

APPLICATION_ID = 0x4E5A5448  # "NZTH": marks the file as ours
SCHEMA_VERSION = 4
# Each migration takes the database from the version before it to its own number. Version 1 is
# the first release of the store; version 2 added full-text search over prompts and outputs;
# version 3 indexes every character (FTS5's trigram tokenizer: unicode61 dropped symbols such as
# "☃", so a search for one found nothing); version 4 links a branch to the exchange it branched from.
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
    4: """
        ALTER TABLE exchanges ADD COLUMN branch_of TEXT;
    """,
}


def statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


def tables_and_id(db: sqlite3.Connection) -> tuple[int, int]:
    """How many schema entries the database has and its application id, read in one statement (one
    read transaction): two statements could straddle another instance's first migration and see
    its tables without its id, taking our own new database for another program's."""
    row = db.execute(
        "SELECT (SELECT count(*) FROM sqlite_master), (SELECT application_id FROM pragma_application_id())"
    ).fetchone()
    return int(row[0]), int(row[1])
