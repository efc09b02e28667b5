"""Exchanges as Markdown: the `export` command and the history screen's export."""

from __future__ import annotations

import time
from pathlib import Path

from nietzsche_tui.history.records import Branch, StoredExchange


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
        branch = Branch.from_dict(exchange.branch_of)
        if branch is not None:
            details += f" · {branch.describe()}"
        lines += [details, ""]
        for column in exchange.columns:
            state = "" if column.state == "done" else f" ({column.state})"
            fence = _fence(column.text)
            model = ""
            if column.checkpoint:  # models side by side: each column its own checkpoint
                model = f" · `{column.checkpoint if full_paths else shown_name(column.checkpoint)}`"
            lines += [f"### {column.label}{state}{model}", "", fence + "text", column.text, fence, ""]
    return "\n".join(lines)
