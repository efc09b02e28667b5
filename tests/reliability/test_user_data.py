"""Nothing a user has is lost or touched (issue 19): another program's database, a file that is
not ours, a full standard output, a malformed row. Each test was written to fail first."""

import os
import sqlite3
import subprocess
import sys

import pytest

from nietzsche_tui.cli.main import main
from nietzsche_tui.history.opening import open_history
from tests.helpers import damage, new_store, stored


def another_programs_database(path):
    """A database in WAL mode with 100 rows and a writer that keeps it open (and its -wal)."""
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    writer.executemany("INSERT INTO invoices(total) VALUES (?)", [(i * 1.5,) for i in range(100)])
    writer.commit()
    return writer


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("command", ["history", "export"])
def test_a_listing_never_touches_another_programs_database(tmp_path, capsys, command):
    path = tmp_path / "theirs.db"
    writer = another_programs_database(path)
    before = snapshot(tmp_path)
    assert {"theirs.db-wal", "theirs.db-shm"} <= set(before)
    assert main([command, "--history", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a nietzsche-tui history (left as it is)" in err
    assert snapshot(tmp_path) == before
    assert writer.execute("SELECT count(*) FROM invoices").fetchone()[0] == 100
    writer.close()


@pytest.mark.parametrize("content", [b"", os.urandom(4096)], ids=["empty", "garbage"])
def test_a_listing_creates_and_moves_nothing(tmp_path, capsys, content):
    path = tmp_path / "named.db"
    path.write_bytes(content)
    assert main(["history", "--history", str(path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert snapshot(tmp_path) == {"named.db": content}  # no schema written, nothing moved aside


def test_the_app_refuses_another_programs_database_and_leaves_it(tmp_path):
    path = tmp_path / "theirs.db"
    writer = another_programs_database(path)
    before = snapshot(tmp_path)
    store, notice = open_history(path)
    assert store is None and "another program" in notice and "left as it is" in notice
    after = snapshot(tmp_path)  # a read-only look: the file and its WAL unchanged (-shm is SQLite's own)
    assert {name: after[name] for name in ("theirs.db", "theirs.db-wal")} == {
        name: before[name] for name in ("theirs.db", "theirs.db-wal")
    }
    garbage = tmp_path / "named" / "garbage.db"  # not SQLite, at a path the user named
    garbage.parent.mkdir()
    garbage.write_bytes(b"x" * 999)
    store, notice = open_history(garbage)
    assert store is None and "not a nietzsche-tui history (left as it is)" in notice
    assert snapshot(garbage.parent) == {"garbage.db": b"x" * 999}
    writer.close()


def test_the_app_sets_a_damaged_history_of_ours_aside_with_its_wal(tmp_path):
    path = tmp_path / "history.db"
    store = new_store(path)
    for i in range(50):
        store.add(stored(prompt=f"prompt {i}" * 20))
    store._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the main file holds them all now
    store.add(stored(prompt="the newest, in the WAL only"))
    keeper = sqlite3.connect(path)  # holds the WAL open, as a second app would
    keeper.execute("SELECT 1").fetchone()
    data = path.read_bytes()
    path.write_bytes(data[:100] + os.urandom(len(data) - 100))  # the header (ours) survives
    wal = (tmp_path / "history.db-wal").read_bytes()
    assert wal
    fresh, notice = open_history(path)
    assert fresh is not None and "moved to" in notice
    aside = next(p for p in tmp_path.iterdir() if ".corrupt-" in p.name and not p.name.endswith(("-wal", "-shm")))
    assert (tmp_path / (aside.name + "-wal")).read_bytes() == wal  # kept beside it, not deleted
    keeper.close()


def test_a_malformed_row_is_skipped_and_counted(tmp_path, capsys):
    path = tmp_path / "history.db"
    store = new_store(path)
    for i in range(3):
        store.add(stored(prompt=f"prompt {i}"))
    store.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE exchanges SET dropped = 'oops' WHERE id = 1")
    db.execute("""UPDATE exchanges SET columns = '[{"label": "x", "text": "y", "surprise": 1}]' WHERE id = 2""")
    db.commit()
    db.close()
    assert main(["history", "--history", str(path)]) == 0
    captured = capsys.readouterr()
    assert "prompt 2" in captured.out and "prompt 0" not in captured.out
    assert "skipped 2 damaged rows" in captured.err


@pytest.mark.slow  # real processes or a training run: the slow step
@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "--length", "30", "--seed", "1", "--prompt", "truth"],
        ["score", "-"],
        ["cells", "--top", "2"],
        ["history", "--history", "{db}"],
        ["export", "--history", "{db}"],
    ],
)
def test_a_full_standard_output_is_one_line(app_model, tmp_path, argv):
    database = tmp_path / "history.db"
    store = new_store(database)
    store.add(stored(prompt="p" * 5000, texts=("x" * 20000, "y")))
    store.close()
    argv = [arg.replace("{db}", str(database)) for arg in argv]
    if argv[0] in ("generate", "score", "cells"):
        argv += ["--checkpoint", str(app_model)]
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "nietzsche_tui", *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            input="the text to score, long enough " * 200,
            text=True,
        )
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("nietzsche-tui: seed")]
    assert lines == ["nietzsche-tui: cannot write the output (No space left on device)"], result.stderr


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["history", "--limit", "-1"], "must be 0 (all) or more"),
        (["export", "-o", ""], "needs a file name"),
        (["cells", "--top", "-5"], "must be 1 or more"),
        (["score", "--spans", "0"], "must be 1 or more"),
    ],
)
def test_options_that_would_be_ignored_are_refused(capsys, argv, said):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and said in capsys.readouterr().err


def test_listing_a_newer_locked_or_folder_history_says_so_once_and_quickly(tmp_path, capsys):
    import time

    newer = tmp_path / "newer.db"
    new_store(newer).close()
    db = sqlite3.connect(newer)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    locked = tmp_path / "locked.db"
    new_store(locked).close()
    holder = sqlite3.connect(locked, isolation_level=None)
    holder.execute("PRAGMA journal_mode = DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    for path, said in ((newer, "newer nietzsche-tui"), (locked, "locked by another program"), (tmp_path, "folder")):
        started = time.monotonic()
        assert main(["history", "--history", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and said in err and "history is off" not in err, err
        assert time.monotonic() - started < 5
    holder.execute("ROLLBACK")
    holder.close()


def test_export_of_an_empty_history_and_to_a_terminal(tmp_path, capsys, monkeypatch):
    path = tmp_path / "history.db"
    store = new_store(path)
    store.close()
    assert main(["export", "--history", str(path)]) == 2
    assert "has no stored exchanges" in capsys.readouterr().err and "None" not in capsys.readouterr().err
    store, _ = open_history(path)
    store.start_session("test")
    store.add(stored(texts=("bell \x07 escape \x1b[2J", "plain")))
    store.close()
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert main(["export", "--history", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\x07" not in shown and "␛[2J" in shown


# -- a damaged newest checkpoint -----------------------------------------------------------


@pytest.mark.parametrize(("damaged", "how"), [("epoch_0002.keras", "truncated"), ("epoch_0002.json", "garbled")])
def test_the_trainer_names_the_damaged_file_and_overwrites_nothing(trained_folder, tiny_corpus, tmp_path, damaged, how):
    import shutil

    from tests.conftest import tiny_config
    from trainer.train import TrainingError, train

    folder = tmp_path / "run"
    shutil.copytree(trained_folder, folder)
    damage(folder / damaged, how)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(TrainingError) as refused:
        train(tiny_config(tiny_corpus, folder, epochs=3))
    message = str(refused.value)
    assert f"{folder / damaged} is damaged" in message and "to resume from epoch 1" in message
    assert "File not found" not in message and "\n" not in message
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_alternatives_without_json_is_refused_and_all_is_any_case(app_model, capsys):
    from nietzsche_tui.locate import pick_epochs

    argv = ["generate", "--alternatives", "3", "--prompt", "truth", "--checkpoint", str(app_model)]
    assert main(argv) == 2
    assert "--alternatives lists characters in the JSON output: add --json" in capsys.readouterr().err
    assert pick_epochs([1, 2, 3], "ALL") == pick_epochs([1, 2, 3], "all") == [1, 2, 3]
    assert pick_epochs([1, 2, 3], "1,LAST") == [1, 3]
