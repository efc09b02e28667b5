"""The project at an earlier commit, checked out beside this one for an interleaved comparison."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def earlier_tree(root: Path, commit: str) -> Iterator[Path]:
    """``commit`` checked out with ``git worktree`` into a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="earlier-tree-") as scratch:
        tree = Path(scratch) / "before"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), commit], cwd=root, check=True, capture_output=True
        )
        try:
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=root, check=False)
