"""``nietzsche-tui serve``: its options, the command each tab's app runs, and the checks made
before the server listens (every refusal one line, exit 2 for a usage error, 1 otherwise)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from nietzsche_tui.contracts.training import SETTINGS
from nietzsche_tui.contracts.training_form import BOUNDED, TrainingBounds
from nietzsche_tui.serve.boundary import WILDCARDS, Boundary, is_loopback, listen_url, new_token


def add_command(commands, shared: argparse.ArgumentParser) -> None:
    """Add ``serve`` to the ``nietzsche-tui`` sub-command parsers (``shared``: the app's options)."""
    served = TrainingBounds.served()
    serve = commands.add_parser(
        "serve",
        parents=[shared],
        help="serve the app to web browsers (one app per tab)",
        description="Serve the chat app to web browsers: each tab gets its own app with these options. "
        "Binds to 127.0.0.1 unless --host says otherwise; beyond loopback a visitor needs the token "
        "in the printed address.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (anything but loopback is public)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--public-url",
        default=None,
        help="the address browsers use, when it is not http://HOST:PORT (needed with --host 0.0.0.0, "
        "e.g. http://my-laptop.local:8000); requests naming another host are refused",
    )
    serve.add_argument("--token", default=None, help="the token visitors need (default beyond loopback: a random one)")
    serve.add_argument(
        "--no-token", action="store_true", help="beyond loopback, let anyone who reaches the port in without a token"
    )
    serve.add_argument("--max-sessions", type=int, default=8, help="apps running at once; more tabs are turned away")
    serve.add_argument(
        "--max-sessions-per-client",
        type=int,
        default=None,
        help="apps one address may run at once (default: a quarter of --max-sessions, at least 1)",
    )
    serve.add_argument("--idle-timeout", type=float, default=900, help="seconds without input before a tab's app ends")
    serve.add_argument(
        "--app-memory",
        type=int,
        default=1024,
        help="MiB of address space each app may take (one uses about 300); beyond it, it ends alone",
    )
    serve.add_argument(
        "--allow-training",
        action="store_true",
        help="let browser users train (into the --checkpoint folder, on --corpus only); a run ends with its tab",
    )
    serve.add_argument("--corpus", default=None, help="with --allow-training: the text browser users train on")
    for name in BOUNDED:  # one --max-… per bounded training setting (contracts/training.py)
        meaning = SETTINGS[name]
        serve.add_argument(
            meaning.bound_flag,
            type=int,
            dest=f"bound_{name}",
            default=served.limits[name],
            help=f"with --allow-training: at most this many ({meaning.label.lower()})",
        )
    serve.add_argument(
        "--history",
        default=None,
        help="a history database for the browser sessions (default: none is kept; never the owner's own)",
    )
    serve.add_argument("--no-follow", dest="follow", action="store_false", help="do not follow a live training run")
    serve.add_argument(
        "--runs",
        default=None,
        metavar="DIR",
        help="let visitors plot the training folders in DIR beside the served one (F5, c); default: not offered",
    )


def training_bounds(args: argparse.Namespace) -> TrainingBounds:
    """The start form's upper bounds in each tab, from the operator's flags."""
    return TrainingBounds({name: getattr(args, f"bound_{name}") for name in BOUNDED})


def app_command(args: argparse.Namespace) -> list[str]:
    """The command each browser tab's app runs: the operator's options as the app's ``Settings``,
    paths made absolute now (the server's working folder decides them, never the browser)."""
    from nietzsche_tui.locate import setting_location
    from nietzsche_tui.settings import Settings

    def absolute(path: str | None) -> str | None:
        return str(Path(path).expanduser().resolve()) if path else None

    training = bool(args.allow_training)
    settings = Settings(
        checkpoint=str(setting_location(args.checkpoint).resolve()),
        temperatures=tuple(args.temperatures),
        length=args.length,
        seed=args.seed,
        mode=args.mode,
        corpus=absolute(args.corpus) if training else None,
        follow=args.follow,
        runs=absolute(args.runs),
        history=absolute(args.history),
        keep_history=bool(args.history),
        served=True,
        allow_training=training,
        training_bounds=training_bounds(args) if training else TrainingBounds(),
    )
    return [sys.executable, "-m", "nietzsche_tui", *settings.argv()]


def _cannot_listen(host: str, port: int) -> str | None:
    """Why the server could not listen there (a port in use, an unknown address), before it says it does."""
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        return error.strerror or str(error)
    return None


def refusal(args: argparse.Namespace) -> str | None:
    """Why these options cannot serve, in one line (before anything is started)."""
    from nietzsche_tui.history.store import default_history_path

    numbers = (args.max_sessions, args.idle_timeout, args.app_memory, *training_bounds(args).limits.values())
    if min(numbers) <= 0 or not 0 < args.port < 65536:
        return "--port, --max-sessions, --idle-timeout, --app-memory and the --max-* bounds must be positive"
    if args.max_sessions_per_client is not None and args.max_sessions_per_client < 1:
        return "--max-sessions-per-client must be at least 1"
    if args.allow_training and not args.corpus:
        # Without one the trainer would download the book's text into the operator's Keras cache.
        return "--allow-training needs --corpus: the text browser users may train on"
    if args.corpus and not Path(args.corpus).expanduser().exists():
        return f"--corpus {args.corpus} does not exist"
    if args.history and Path(args.history).expanduser().resolve() == default_history_path().resolve():
        return "--history names your own history database; give the browser sessions a file of their own"
    if args.token is not None and (args.no_token or len(args.token) < 8):
        return "--token takes a token of at least 8 characters, and not with --no-token"
    return None


def run_serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl+C (or SIGTERM); every app is stopped on the way out."""
    from nietzsche_tui.contracts.checkpoint import CheckpointError

    problem = refusal(args)
    if problem:
        print(f"nietzsche-tui serve: {problem}", file=sys.stderr)
        return 2
    try:
        command = app_command(args)
    except CheckpointError as error:
        print(f"nietzsche-tui serve: {error}", file=sys.stderr)
        return 1
    problem = _cannot_listen(args.host, args.port)
    if problem:
        print(f"nietzsche-tui serve: cannot listen on {args.host}:{args.port} ({problem})", file=sys.stderr)
        return 1
    loopback = is_loopback(args.host)
    token = None if args.no_token else args.token or (None if loopback else new_token())
    if not loopback:
        print(public_warning(args.host, args.public_url, token), file=sys.stderr, flush=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    from nietzsche_tui.serve.server import SessionServer  # aiohttp is heavy: only when serving
    from nietzsche_tui.serve.sessions import Limits

    per_client = args.max_sessions_per_client or max(1, args.max_sessions // 4)
    limits = Limits(args.max_sessions, min(per_client, args.max_sessions), args.idle_timeout, args.app_memory)
    boundary = Boundary.for_server(args.host, args.port, args.public_url, token)
    server = SessionServer(command, args.host, args.port, args.public_url, boundary, limits)
    if args.host in WILDCARDS and not args.public_url:
        import socket

        server.public_url = listen_url(socket.gethostname(), args.port)
    if token:
        server.public_url = f"{server.public_url.rstrip('/')}/?token={token}"
    try:
        server.serve()
    except OSError as error:
        print(
            f"nietzsche-tui serve: cannot listen on {args.host}:{args.port} ({error.strerror or error})",
            file=sys.stderr,
        )
        return 1
    return 0


def public_warning(host: str, public_url: str | None, token: str | None) -> str:
    """What the operator must know when the server listens beyond this machine."""
    who = (
        "anyone with the printed address (it holds the token) gets"
        if token
        else "ANYONE who can reach this address and port gets (--no-token: no token is asked)"
    )
    warning = (
        f"Warning: listening on {host}: {who} a full app session (no shell, no files of yours, but the "
        "machine's CPU). Use --host 127.0.0.1 to keep it local."
    )
    if host in WILDCARDS and not public_url:
        warning += (
            f" Pass --public-url with the address browsers use: {host or 'every interface'} is no address to "
            "open, and requests naming another host than this machine's names are refused."
        )
    return warning
