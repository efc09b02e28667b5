"""The history store: migrations, exact text, search, two writers, damaged and unwritable files."""

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nietzsche_tui.history.export import to_markdown
from nietzsche_tui.history.opening import open_history
from nietzsche_tui.history.schema import MIGRATIONS, SCHEMA_VERSION
from tests.helpers import new_store, stored


def test_text_is_stored_exactly_and_found_by_any_word(tmp_path):
    store = new_store(tmp_path / "h.db")
    odd = 'Ünïcödé 🎉 "quotes" \x1b[31m ; DROP TABLE exchanges; -- \n\ttabs'
    first = store.add(stored(prompt=odd, texts=("zarathustra spoke", "nothing")))
    store.add(stored(prompt="second", texts=("the will to power", "x")))
    back = store.exchanges(limit=None)
    assert [e.id for e in back] == [first + 1, first]  # newest first
    assert back[1].prompt == odd and back[1].dropped == ["🎉"] and back[1].columns[0].text == "zarathustra spoke"
    assert [e.id for e in store.exchanges(search="zarathustra")] == [first]
    assert [e.id for e in store.exchanges(search="will power")] == [first + 1]
    assert store.exchanges(search='"; DROP TABLE exchanges; --') == []  # user words are never FTS or SQL syntax
    assert [e.id for e in store.exchanges(search="Ünïcödé")] == [first]


def test_migrations_from_the_first_version(tmp_path):
    path = tmp_path / "v1.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[1])
    db.execute("PRAGMA application_id = 1314542664")
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO sessions(started, app_version) VALUES (1, 'old')")
    db.execute(
        "INSERT INTO exchanges(session_id, created, kind, prompt, prompt_read, dropped, checkpoint_path, mode, "
        "temperatures, length, columns) VALUES (1, 2, 'temperatures', 'old prompt', 'old prompt', '[]', 'x', "
        "'window', '[0.5]', 10, ?)",
        ('[{"label": "T=0.5", "text": "nietzsche wrote", "state": "done", "temperature": 0.5, "epoch": 1}]',),
    )
    db.commit()
    db.close()
    store = new_store(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    (old,) = store.exchanges(search="nietzsche")  # the old row is searchable
    assert old.prompt == "old prompt" and old.branch_of is None


def test_two_processes_on_one_database_keep_every_exchange(tmp_path):
    path = tmp_path / "shared.db"
    new_store(path).close()
    root = Path(__file__).resolve().parents[2]
    script = "\n".join(
        [
            "import sys",
            f"sys.path.insert(0, {str(root)!r})",
            "from tests.helpers import new_store, stored",
            f"store = new_store({str(path)!r})",
            "for i in range(60):",
            "    store.add(stored(prompt=f'{sys.argv[1]} {i}'))",
        ]
    )
    writers = [subprocess.Popen([sys.executable, "-c", script, name]) for name in ("left", "right")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    prompts = {e.prompt for e in new_store(path).exchanges(limit=None)}
    assert prompts == {f"{side} {i}" for side in ("left", "right") for i in range(60)}


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_file_is_moved_aside_and_a_fresh_one_started(tmp_path, damage):
    """At the app's own location anything damaged is ours; elsewhere only a file with our header
    (another program's database and garbage elsewhere are refused: tests/reliability/test_user_data.py)."""
    path = tmp_path / "history.db"
    if damage == "garbage":
        path.write_bytes(os.urandom(8192))
    else:
        store = new_store(path)
        for i in range(200):
            store.add(stored(prompt=f"prompt {i}" * 20))
        store.close()
        for suffix in ("-wal", "-shm"):
            (tmp_path / f"history.db{suffix}").unlink(missing_ok=True)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    store, notice = open_history(path, default_location=damage == "garbage")
    assert store is not None and "moved to" in notice
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("history.db.corrupt-")]
    assert len(aside) == 1 and str(aside[0]) in notice
    store.start_session("test")
    store.add(stored())
    assert len(store.exchanges()) == 1


def test_a_location_that_cannot_be_written_turns_history_off(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store, reason = open_history(blocker / "history.db")
    assert store is None and reason.startswith("history is off")


def test_the_cap_drops_the_oldest(tmp_path):
    store = new_store(tmp_path / "h.db", max_exchanges=5)
    ids = [store.add(stored(prompt=f"p{i}")) for i in range(8)]
    assert [e.id for e in store.exchanges(limit=None)] == ids[::-1][:5]
    assert store.exchanges(search="p0") == []  # the search index forgets them too


def test_markdown_export_reads_on_github(tmp_path):
    store = new_store(tmp_path / "h.db")
    store.add(stored(texts=("```fenced``` text", "plain")))
    markdown = to_markdown(store.exchanges(), "session 1")
    assert markdown.startswith("# session 1\n") and "## 1. what is truth" in markdown
    assert "````text\n```fenced``` text\n````" in markdown  # a longer fence than any inside
    assert "seed 7" in markdown and "`/m/epoch_0003.json`" in markdown


def test_saving_is_quick(tmp_path):
    store = new_store(tmp_path / "h.db")
    started = time.perf_counter()
    for i in range(50):
        store.add(stored(prompt=f"p{i}"))
    assert time.perf_counter() - started < 30  # a sanity bound, not a benchmark (see benchmarks/history.py)


@pytest.mark.parametrize("query", ["☃", "雪", "🎉 ", "ünd", "ow", "SNOW", "50%", "a_b"])
def test_search_finds_any_character_symbols_and_non_latin_text_included(tmp_path, query):
    store = new_store(tmp_path / "h.db")
    store.add(stored(prompt="the snowman ☃ and 雪 in a_b", texts=("Wünder 🎉 at 50%", "plain")))
    store.add(stored(prompt="nothing of that", texts=("here", "either")))
    found = [e.prompt for e in store.exchanges(search=query)]
    assert found == ["the snowman ☃ and 雪 in a_b"], query


def test_a_damaged_branch_link_is_dropped_never_shown_half():
    from nietzsche_tui.history.records import Branch

    good = {"prompt": "truth", "column": "T=1", "position": 3, "chosen": "a", "instead_of": "b", "exchange": 2}
    assert Branch.from_dict(good).describe() == "branch of exchange #2 (T=1) at character 4: “a” for “b”"
    for damaged in ({**good, "position": "3"}, {**good, "exchange": "2"}, {**good, "chosen": None}, {"x": 1}, []):
        assert Branch.from_dict(damaged) is None


def test_the_markdown_export_names_a_branch_and_each_compared_models_checkpoint():
    from nietzsche_tui.history.export import to_markdown
    from nietzsche_tui.history.records import Column
    from tests.helpers import stored

    branch = stored(prompt="truth is a")
    branch.branch_of = {
        "prompt": "truth",
        "column": "T=1",
        "position": 3,
        "chosen": "a",
        "instead_of": "b",
        "exchange": 2,
    }
    models = stored(kind="models")
    models.columns = [
        Column("book · 0.10 M", "text", checkpoint="/srv/models/book/epoch_0080.json", model="book"),
        Column("mine · 0.10 M", "more", checkpoint="/srv/runs/mine/epoch_0003.json", model="runs/mine"),
    ]
    served = to_markdown([branch, models], "exported", full_paths=False)
    assert "branch of exchange #2 (T=1) at character 4" in served
    assert "### book · 0.10 M · `book/epoch_0080.json`" in served and "/srv" not in served
    assert "`/srv/runs/mine/epoch_0003.json`" in to_markdown([models], "exported")
