"""``nietzsche-tui history`` and ``nietzsche-tui export``: the stored conversations, for scripts."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from nietzsche_tui.cli.common import EXIT_USAGE, whole_number
from nietzsche_tui.history.export import to_markdown
from nietzsche_tui.history.opening import read_history
from nietzsche_tui.history.store import HistoryError, default_history_path
from nietzsche_tui.text import visible, visible_one_line


def add_commands(commands) -> None:
    """Add ``history`` and ``export`` to the ``nietzsche-tui`` sub-command parsers."""
    location = argparse.ArgumentParser(add_help=False)
    location.add_argument("--history", default=None, help=f"the history database (default: {default_history_path()})")
    listing = commands.add_parser("history", parents=[location], help="list stored exchanges, newest first")
    listing.add_argument("--search", default=None, help="only exchanges whose prompt or output has every word")
    listing.add_argument("--limit", type=whole_number(0, "0 (all)"), default=50, help="at most this many (0: all)")
    listing.add_argument("--json", action="store_true", help="JSON Lines: one JSON object per line, one per exchange")
    export = commands.add_parser("export", parents=[location], help="write sessions as Markdown or JSON")
    which = export.add_mutually_exclusive_group()
    which.add_argument("--session", type=int, default=None, help="this session (default: the newest)")
    which.add_argument("--all", action="store_true", help="every stored exchange")
    export.add_argument("--format", choices=("md", "json"), default="md", help="Markdown for reading, JSON for tools")
    export.add_argument(
        "-o", "--output", type=_file_name, default=None, help="write to this file (default: standard output)"
    )


def _file_name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("needs a file name (leave -o out to write to standard output)")
    return text


def _store(args: argparse.Namespace):
    """The database, read-only: (store, None), or (None, the one line saying why not)."""
    path = Path(args.history).expanduser() if args.history else default_history_path()
    try:
        return read_history(path), None
    except HistoryError as error:
        return None, str(error)


def _say_skipped(store) -> None:
    if store.skipped:
        rows = "row" if store.skipped == 1 else "rows"
        print(f"nietzsche-tui: skipped {store.skipped} damaged {rows} of {store.path}", file=sys.stderr)


def run_history(args: argparse.Namespace) -> int:
    store, problem = _store(args)
    if store is None:
        print(f"nietzsche-tui: {problem}", file=sys.stderr)
        return EXIT_USAGE
    found = store.exchanges(search=args.search, limit=args.limit or None)
    _say_skipped(store)
    for exchange in found:
        if args.json:
            print(json.dumps(exchange.to_json(), ensure_ascii=False))
            continue
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(exchange.created))
        prompt = visible_one_line(exchange.prompt[:70])
        print(f"{exchange.id:>6}  session {exchange.session_id:<4} {when}  {exchange.kind:<12} {prompt}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    store, problem = _store(args)
    if store is None:
        print(f"nietzsche-tui: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if args.all:
        exchanges, title = store.exchanges(limit=None), "nietzsche-tui: every stored exchange"
        if not exchanges:
            print(f"nietzsche-tui: {store.path} has no stored exchanges", file=sys.stderr)
            return EXIT_USAGE
    else:
        session = args.session
        if session is None:
            sessions = [s for s in store.sessions() if s["exchanges"]]
            if not sessions:
                print(f"nietzsche-tui: {store.path} has no stored exchanges", file=sys.stderr)
                return EXIT_USAGE
            session = sessions[0]["id"]
        exchanges = store.exchanges(session=session, limit=None)
        title = f"nietzsche-tui session {session}"
        if not exchanges:
            print(f"nietzsche-tui: session {session} has no stored exchanges", file=sys.stderr)
            return EXIT_USAGE
    _say_skipped(store)
    exchanges = list(reversed(exchanges))  # oldest first, as they happened
    if args.format == "json":
        text = json.dumps({"title": title, "exchanges": [e.to_json() for e in exchanges]}, ensure_ascii=False, indent=1)
    else:
        text = to_markdown(exchanges, title)
    if args.output:
        try:
            Path(args.output).write_text(text + "\n", encoding="utf-8")
        except OSError as error:
            print(f"nietzsche-tui: cannot write {args.output}: {error.strerror or error}", file=sys.stderr)
            return 1
        count = f"{len(exchanges)} exchange" + ("" if len(exchanges) == 1 else "s")
        print(f"wrote {count} to {args.output}", file=sys.stderr)
    else:
        # On a terminal, stored control characters (ESC, BEL) are shown, not obeyed; a pipe or a
        # file gets the text exactly.
        sys.stdout.write((visible(text) if sys.stdout.isatty() else text) + "\n")
    return 0
