"""The model shipped in the package: it loads, it is the book's, it is as good as it says, and an
installed wheel finds it."""

import json
import subprocess
import sys
import zipfile

import pytest

from nietzsche_tui.contracts.checkpoint import Architecture
from nietzsche_tui.contracts.folder import latest_checkpoint
from nietzsche_tui.engine.generation import Engine, GenerationRequest
from nietzsche_tui.locate import BUNDLED_MODEL_DIR, BUNDLED_MODELS


@pytest.fixture(scope="module")
def bundled():
    checkpoint = latest_checkpoint(BUNDLED_MODEL_DIR)
    assert checkpoint is not None, "no model bundled in nietzsche_tui/bundled/book"
    return Engine.load(BUNDLED_MODEL_DIR)


def test_bundled_model_is_the_books_architecture_with_provenance(bundled):
    meta = json.loads(bundled.checkpoint.metadata_path.read_text())
    assert len(bundled.vocabulary) == 57 and bundled.maxlen == 60 and bundled.units == 128
    assert meta["corpus"]["sha256"] == "23cf69874ab69d3d256099ab530ea4be24d47d9675b673bcc67cbcd6298ec647"
    assert meta["training"]["recipe"] in ("book", "fast")
    assert meta["metrics"]["total_seconds"] > 0 and meta["bundle"]["optimizer_state"] == "stripped"
    assert len(meta["seed_passages"]) >= 5
    assert bundled.checkpoint.weights_path.stat().st_size < 1_000_000


def test_bundled_model_writes_text(bundled):
    steps = list(bundled.generate(GenerationRequest("what is truth? is it not", (0.0,), length=80)))
    text = "".join(s.chars[0] for s in steps)
    assert " the " in text  # greedy text from a trained model is English-like, not noise


@pytest.mark.corpus
@pytest.mark.slow  # the fast loop checks the same figure through `score` (tests/engine/test_analysis.py)
@pytest.mark.parametrize("name", sorted(BUNDLED_MODELS))
def test_bundled_model_held_out_loss_is_what_its_metadata_says(name, real_corpus):
    engine = Engine.load(BUNDLED_MODELS[name])
    text = real_corpus.read_text(encoding="utf-8").lower()
    held_out = text[len(text) - int(len(text) * 0.05) :]
    measured = engine.held_out_loss(held_out)
    assert measured == pytest.approx(engine.checkpoint.val_loss, abs=1e-4)


def test_the_large_model_is_two_lstm_layers_in_float16_and_clearly_better():
    large, book = Engine.load(BUNDLED_MODELS["large"]), Engine.load(BUNDLED_MODELS["book"])
    meta = large.checkpoint.metadata
    assert large.checkpoint.architecture == Architecture("lstm", 2, 256, 0.25)
    assert json.loads(large.checkpoint.metadata_path.read_text())["format_version"] == 2
    assert meta.extra["bundle"]["weights_dtype"] == "float16"
    assert meta.corpus["sha256"] == book.checkpoint.metadata.corpus["sha256"]
    assert meta.metrics.total_seconds <= 3600  # at most one hour of training (the experiment's rule)
    assert large.checkpoint.val_loss <= 1.25 < book.checkpoint.val_loss
    assert large.vocabulary == book.vocabulary and large.maxlen == book.maxlen
    assert large.checkpoint.weights_path.stat().st_size < 2_000_000


def test_model_large_opens_the_large_model_and_clashes_with_checkpoint(capsys):
    from nietzsche_tui.cli.main import main

    assert main(["generate", "--model", "large", "--prompt", "what is truth", "--length", "20", "--seed", "1"]) == 0
    assert "large/epoch_" in capsys.readouterr().err
    assert main(["generate", "--model", "large", "--checkpoint", str(BUNDLED_MODEL_DIR), "--prompt", "x"]) == 2
    assert "--model and --checkpoint" in capsys.readouterr().err


def test_the_installed_wheel_finds_the_model_and_stylesheet(tmp_path):
    root = BUNDLED_MODEL_DIR.parents[2]
    subprocess.run(
        ["uv", "build", "--wheel", "--out-dir", str(tmp_path / "dist")], cwd=root, check=True, capture_output=True
    )
    wheel = next((tmp_path / "dist").glob("nietzsche_tui-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "nietzsche_tui/tui/app.tcss" in names
    assert any(n.startswith("nietzsche_tui/bundled/book/epoch_") and n.endswith(".keras") for n in names)
    assert any(n.startswith("nietzsche_tui/bundled/large/epoch_") and n.endswith(".keras") for n in names)
    assert "nietzsche_tui/bundled/nietzsche.txt.xz" in names  # the verbatim view works out of the box
    assert not any(n.startswith("tests/") or n.endswith("nietzsche.txt") for n in names)
    # A pure-Python wheel installs by unpacking; run from there, away from the checkout.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = (
        "import asyncio, json, sys, nietzsche_tui\n"
        "from nietzsche_tui.tui.app import make_app\n"
        "async def main():\n"
        "    app = make_app(seed=1, length=20)\n"
        "    async with app.run_test() as pilot:\n"
        "        while app.engine is None and app.models.problem is None:\n"
        "            await pilot.pause(0.05)\n"
        "        print(json.dumps({'file': nietzsche_tui.__file__, 'model': str(app.engine.checkpoint.metadata_path),\n"
        "                          'tensorflow': 'tensorflow' in sys.modules}))\n"
        "asyncio.run(main())\n"
    )
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["file"].startswith(str(site)) and report["model"].startswith(str(site))
    assert report["tensorflow"] is False
    generate = subprocess.run(
        [
            sys.executable,
            "-m",
            "nietzsche_tui",
            "generate",
            "--prompt",
            "truth",
            "--length",
            "30",
            "--seed",
            "3",
            "--json",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert generate.returncode == 0, generate.stderr
    assert len(generate.stdout.strip().splitlines()) == 4


@pytest.mark.slow  # loads TensorFlow and both models
@pytest.mark.parametrize("name", sorted(BUNDLED_MODELS))
def test_plain_keras_computes_what_the_engine_computes_for_every_bundled_model(name):
    import keras
    import numpy as np

    engine = Engine.load(BUNDLED_MODELS[name])
    model = keras.models.load_model(engine.checkpoint.weights_path)
    windows = np.random.default_rng(3).integers(0, len(engine.vocabulary), size=(16, engine.checkpoint.maxlen))
    one_hot = np.eye(len(engine.vocabulary), dtype=np.float32)[windows]
    assert np.abs(model.predict(one_hot, verbose=0) - engine.window_probabilities(windows)).max() < 1e-5
