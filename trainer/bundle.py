"""Make the model that ships inside the package from a training folder.

    uv run python -m trainer.bundle --source runs/quality-fast --epochs 40-80 --corpus ../shared/corpus/nietzsche.txt

It averages the weights of a range of epochs (stochastic weight averaging: the fast recipe's
weights wander around a minimum late in training, and their mean generalises better than any one
of them), writes them into the book's architecture without optimizer state (a third of the size),
scores the result on the held-out text with the NumPy engine, and saves it as an ordinary
checkpoint whose metadata keeps the full provenance. A single epoch (``--epochs 70-70``) copies it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from nietzsche_tui.checkpoint import complete_checkpoints
from nietzsche_tui.engine import BUNDLED_MODEL_DIR, Engine
from nietzsche_tui.weights import LSTMWeights, load_weights
from trainer.corpus import load_corpus

FIELDS = ("kernel", "recurrent_kernel", "bias", "dense_kernel", "dense_bias")


def bundle(source: Path, first: int, last: int, corpus_path: Path, out: Path) -> dict:
    """Average epochs ``first``..``last`` of ``source`` into a checkpoint in ``out``; return its metadata."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from trainer.callbacks import save_checkpoint
    from trainer.model import build_model

    chosen = [c for c in complete_checkpoints(source) if first <= c.epoch <= last]
    if not chosen:
        raise SystemExit(f"bundle: no complete checkpoints in {source} between epochs {first} and {last}")
    last_checkpoint = chosen[-1]
    weights = [load_weights(c) for c in chosen]
    averaged = LSTMWeights(*(np.mean([getattr(w, f) for w in weights], axis=0) for f in FIELDS))

    meta = dict(last_checkpoint.metadata)
    corpus = load_corpus(corpus_path, meta["maxlen"], meta["training"]["val_fraction"])
    if corpus.sha256 != meta["corpus"]["sha256"]:
        raise SystemExit("bundle: this corpus is not the one the checkpoints were trained on")
    engine = Engine(last_checkpoint, averaged)
    val_loss = engine.held_out_loss(corpus.text[corpus.split :])

    model = build_model(len(corpus.vocabulary), meta["maxlen"], meta["model"]["units"])
    model.set_weights([getattr(averaged, f) for f in FIELDS])
    meta["metrics"] = {
        **meta["metrics"],
        "val_loss": val_loss,
        "val_bpc": val_loss / np.log(2),
        "val_loss_measured_by": "NumPy engine, every held-out window (step 1)",
    }
    meta["bundle"] = {
        "source": source.name,
        "averaged_epochs": [c.epoch for c in chosen],
        "single_epoch_val_loss": {str(c.epoch): c.val_loss for c in (chosen[0], chosen[-1])},
        "optimizer_state": "stripped",
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    meta["training"] = {**meta["training"], "corpus": corpus_path.name, "out": str(source.name)}
    with tempfile.TemporaryDirectory() as staging:
        save_checkpoint(model, Path(staging), meta)
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("epoch_*"):
            old.unlink()
        for item in Path(staging).iterdir():
            shutil.copy(item, out / item.name)
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, required=True, help="training folder")
    parser.add_argument("--epochs", required=True, help="range to average, FIRST-LAST")
    parser.add_argument("--corpus", type=Path, required=True, help="the corpus it was trained on")
    parser.add_argument("--out", type=Path, default=BUNDLED_MODEL_DIR, help="where to write the checkpoint")
    args = parser.parse_args()
    first, last = (int(part) for part in args.epochs.split("-"))
    meta = bundle(args.source, first, last, args.corpus, args.out)
    print(
        f"bundled epochs {first}-{last} of {args.source}: held-out {meta['metrics']['val_loss']:.4f} nats/char "
        f"({meta['metrics']['val_bpc']:.3f} bits) -> {args.out}"
    )


if __name__ == "__main__":
    main()
