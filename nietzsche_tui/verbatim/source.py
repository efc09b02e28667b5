"""The text a checkpoint was trained on, found again and proven the same by its sha256.

Where to look, in order: ``--corpus`` when given (the user's word, so a mismatch is an error, never
a fallback), the paths the trainer recorded, the copy of the book's text bundled with the package
(public domain, 197 kB of xz), and Keras's download cache. Every candidate is read as the trainer
read it (``contracts/corpus.py``) and must have the recorded sha256: a file that changed since
training is said plainly and never used, since its line numbers would point at the wrong passage.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nietzsche_tui.contracts.checkpoint import CheckpointMetadata
from nietzsche_tui.contracts.corpus import SOURCES_JOINED_BY, CorpusError, corpus_sha256, read_corpus
from nietzsche_tui.verbatim.spans import DEFAULT_MIN_SPAN

if TYPE_CHECKING:
    from nietzsche_tui.verbatim.index import VerbatimIndex

BUNDLED_CORPUS = Path(__file__).parents[1] / "bundled" / "nietzsche.txt.xz"
BUNDLED_CORPUS_SHA256 = "23cf69874ab69d3d256099ab530ea4be24d47d9675b673bcc67cbcd6298ec647"
KERAS_CACHE = Path("~/.keras/datasets/nietzsche.txt")


class TrainingTextError(Exception):
    """The training text cannot be found or is not the one recorded; the message is one line."""


@dataclass(frozen=True)
class TrainingText:
    """The text a model was trained on, as it saw it (lowercased when it was)."""

    text: str
    sha256: str  # of the text as read, before lowercasing (what the checkpoint records)
    lowercased: bool
    origin: str  # where it was found, for people: a path, or "the copy bundled with nietzsche-tui"

    def as_seen(self, text: str) -> str:
        """``text`` as the model reads it, character for character (lowercased when it was
        trained so; a character whose lowercase is two characters is left as it is, so that
        positions in the result are positions in ``text``)."""
        if not self.lowercased:
            return text
        return "".join(c if len(low := c.lower()) != 1 else low for c in text)

    @property
    def cache_key(self) -> str:
        return f"{self.sha256}-{'lower' if self.lowercased else 'case'}"


def _short(digest: str | None) -> str:
    return f"{digest[:12]}…" if digest else "none recorded"


def _read_bundled() -> str:
    import lzma  # here, not at the top: the app's start-up imports this module and never needs it

    return lzma.decompress(BUNDLED_CORPUS.read_bytes()).decode("utf-8-sig")


def find_training_text(metadata: CheckpointMetadata, override: str | None = None) -> TrainingText:
    """The training text of the model ``metadata`` describes (see the module's docstring for where
    it is looked for); raises TrainingTextError saying what is missing or different, and what to do."""
    recorded = metadata.corpus.get("sha256")
    name = metadata.corpus.get("source") or "its training text"
    lowercased = metadata.lowercases

    def found(raw: str, origin: str) -> TrainingText:
        return TrainingText(raw.lower() if lowercased else raw, corpus_sha256(raw), lowercased, origin)

    if override is not None:
        try:
            raw = read_corpus(override)
        except CorpusError as error:
            raise TrainingTextError(str(error)) from None
        digest = corpus_sha256(raw)
        if recorded and digest != recorded:
            raise TrainingTextError(
                f"{override} is not the text this model was trained on ({name}: sha256 {_short(recorded)} "
                f"recorded, {_short(digest)} read); pass the training text with --corpus"
            )
        return found(raw, str(override))
    if not recorded:
        raise TrainingTextError(
            "this checkpoint does not record its training text's sha256; pass the text with --corpus"
        )
    changed: list[str] = []
    paths = [Path(p) for p in metadata.corpus.get("paths") or [] if isinstance(p, str)]
    if paths and all(p.exists() for p in paths):
        try:
            raw = SOURCES_JOINED_BY.join(read_corpus(p) for p in paths)
        except CorpusError:
            raw = None
        if raw is not None and corpus_sha256(raw) == recorded:
            return found(raw, " + ".join(str(p) for p in paths))
        changed.append(" + ".join(str(p) for p in paths))
    if recorded == BUNDLED_CORPUS_SHA256 and BUNDLED_CORPUS.is_file():
        raw = _read_bundled()
        if corpus_sha256(raw) == recorded:
            return found(raw, "the copy bundled with nietzsche-tui")
    keras_copy = KERAS_CACHE.expanduser()
    if keras_copy.is_file():
        try:
            raw = read_corpus(keras_copy)
        except CorpusError:
            raw = None
        if raw is not None and corpus_sha256(raw) == recorded:
            return found(raw, str(keras_copy))
    if changed:
        raise TrainingTextError(
            f"{changed[0]} changed since this model was trained on it (sha256 {_short(recorded)} recorded); "
            "pass the original text with --corpus"
        )
    raise TrainingTextError(
        f"the text this model was trained on ({name}, sha256 {_short(recorded)}) is not on this machine; "
        "pass it with --corpus"
    )


def index_cache() -> Path:
    """Where built indexes are kept (the user cache folder): rebuilt if deleted."""
    import platformdirs  # only once an index is opened: the app's first frame does not wait for it

    return platformdirs.user_cache_path("nietzsche-tui") / "verbatim"


def training_index(
    metadata: CheckpointMetadata, override: str | None = None, min_span: int = DEFAULT_MIN_SPAN
) -> tuple[VerbatimIndex, TrainingText]:
    """The verbatim index of a model's training text, from the cache when built before."""
    found = find_training_text(metadata, override)
    from nietzsche_tui.verbatim.index import open_index  # NumPy: here, never in the app's start-up

    return open_index(found.text, found.cache_key, min_span, index_cache()), found


class TrainingIndexes:
    """The app's open indexes, one per training text, opened on first use (from a worker thread:
    finding and hashing the text and building its index read the disk). A text that cannot be
    found is remembered with its reason, so the user is told once, not at every column."""

    def __init__(self, corpus: str | None = None, min_span: int = DEFAULT_MIN_SPAN) -> None:
        self.corpus = corpus  # --corpus: the training text named by the user
        self.min_span = min_span
        self._opened: dict[str, tuple[VerbatimIndex, TrainingText] | str] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(metadata: CheckpointMetadata) -> str:
        return f"{metadata.corpus.get('sha256')}-{metadata.lowercases}"

    def open(self, metadata: CheckpointMetadata) -> tuple[VerbatimIndex, TrainingText]:
        """The index of this model's training text; raises TrainingTextError (every time, with
        the reason found the first time) when there is none."""
        key = self.key(metadata)
        with self._lock:  # two workers asking at once build it once
            if key not in self._opened:
                try:
                    self._opened[key] = training_index(metadata, self.corpus, self.min_span)
                except TrainingTextError as error:
                    self._opened[key] = str(error)
            opened = self._opened[key]
        if isinstance(opened, str):
            raise TrainingTextError(opened)
        return opened

    def opened(self, metadata: CheckpointMetadata) -> tuple[VerbatimIndex, TrainingText] | None:
        """The index if it is open already (never reads the disk: the UI thread may ask)."""
        opened = self._opened.get(self.key(metadata))
        return None if opened is None or isinstance(opened, str) else opened
