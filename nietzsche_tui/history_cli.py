"""``nietzsche-tui history`` and ``nietzsche-tui export``: the stored conversations, for scripts."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from nietzsche_tui.history import default_history_path, open_history, to_markdown
from nietzsche_tui.text import visible_one_line

EXIT_USAGE = 2


def add_commands(commands) -> None:
    """Add ``history`` and ``export`` to the ``nietzsche-tui`` sub-command parsers."""
    location = argparse.ArgumentParser(add_help=False)
    location.add_argument("--history", default=None, help=f"the history database (default: {default_history_path()})")
    listing = commands.add_parser("history", parents=[location], help="list stored exchanges, newest first")
    listing.add_argument("--search", default=None, help="only exchanges whose prompt or output has every word")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (0: all)")
    listing.add_argument("--json", action="store_true", help="one JSON object per exchange")
    export = commands.add_parser("export", parents=[location], help="write sessions as Markdown or JSON")
    which = export.add_mutually_exclusive_group()
    which.add_argument("--session", type=int, default=None, help="this session (default: the newest)")
    which.add_argument("--all", action="store_true", help="every stored exchange")
    export.add_argument("--format", choices=("md", "json"), default="md", help="Markdown for reading, JSON for tools")
    export.add_argument("-o", "--output", default=None, help="write to this file (default: standard output)")


def _store(args: argparse.Namespace):
    path = Path(args.history).expanduser() if args.history else default_history_path()
    if not path.exists():
        return None, f"no history at {path} yet (the app writes it as you chat)"
    store, notice = open_history(path)
    if notice:
        print(f"nietzsche-tui: {notice}", file=sys.stderr)
    return store, None if store else notice


def run_history(args: argparse.Namespace) -> int:
    store, problem = _store(args)
    if store is None:
        print(f"nietzsche-tui: {problem}", file=sys.stderr)
        return EXIT_USAGE
    found = store.exchanges(search=args.search, limit=args.limit or None)
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
    else:
        session = args.session
        if session is None:
            sessions = [s for s in store.sessions() if s["exchanges"]]
            session = sessions[0]["id"] if sessions else None
        exchanges = store.exchanges(session=session, limit=None) if session is not None else []
        title = f"nietzsche-tui session {session}"
        if not exchanges:
            print(f"nietzsche-tui: session {session} has no stored exchanges", file=sys.stderr)
            return EXIT_USAGE
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
        print(f"wrote {len(exchanges)} exchanges to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text + "\n")
    return 0
