"""`python -m trainer.bundle`: never destroys what it reads, never overwrites without being told."""

import pytest

from nietzsche_tui.contracts.folder import complete_checkpoints
from nietzsche_tui.engine.generation import Engine
from nietzsche_tui.locate import BUNDLED_MODEL_DIR
from tests.conftest import tiny_config
from trainer.bundle import main as bundle_main
from trainer.train import train


def run(capsys, *args):
    code = bundle_main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def test_out_is_required_so_the_packaged_model_is_never_overwritten_by_default(trained_folder, tiny_corpus, capsys):
    packaged = sorted((p.name, p.stat().st_mtime_ns) for p in BUNDLED_MODEL_DIR.iterdir())
    with pytest.raises(SystemExit) as exit_info:
        bundle_main(["--source", str(trained_folder), "--epochs", "1-2", "--corpus", str(tiny_corpus)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "--out" in err and "\n" not in err
    assert sorted((p.name, p.stat().st_mtime_ns) for p in BUNDLED_MODEL_DIR.iterdir()) == packaged


def test_out_equal_to_source_is_refused_and_keeps_the_checkpoints(trained_folder, tiny_corpus, capsys):
    before = [c.epoch for c in complete_checkpoints(trained_folder)]
    code, _, err = run(
        capsys,
        "--source",
        trained_folder,
        "--epochs",
        "1-2",
        "--corpus",
        tiny_corpus,
        "--out",
        trained_folder / ".." / trained_folder.name,
    )
    assert code == 2 and "is the --source folder" in err and "\n" not in err
    assert [c.epoch for c in complete_checkpoints(trained_folder)] == before


@pytest.mark.parametrize("epochs", ["2", "1-2"])
def test_one_epoch_or_a_range_bundles_into_a_loadable_checkpoint(trained_folder, tiny_corpus, tmp_path, capsys, epochs):
    out = tmp_path / "bundled"
    # An earlier bundle of the same source, of another epoch: replaced, not mixed in.
    assert run(capsys, "--source", trained_folder, "--epochs", "1", "--corpus", tiny_corpus, "--out", out)[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["epoch_0001.json", "epoch_0001.keras"]
    code, printed, _ = run(
        capsys, "--source", trained_folder, "--epochs", epochs, "--corpus", tiny_corpus, "--out", out
    )
    assert code == 0 and "held-out" in printed
    assert ("bundled epoch 2 (1)" if epochs == "2" else "bundled epochs 1-2 (2)") in printed
    checkpoints = complete_checkpoints(out)
    assert [c.epoch for c in checkpoints] == [2] and sorted(p.name for p in out.iterdir()) == [
        "epoch_0002.json",
        "epoch_0002.keras",
    ]
    engine = Engine.load(out)
    averaged = [1, 2] if epochs == "1-2" else [2]
    assert engine.checkpoint.metadata.extra["bundle"]["averaged_epochs"] == averaged
    assert engine.checkpoint.metadata.seed_passages  # recomputed at word boundaries from the corpus


@pytest.mark.parametrize("epochs", ["3-1", "x", "1-2-3", "0"])
def test_bad_epoch_ranges_are_one_line(trained_folder, tiny_corpus, tmp_path, capsys, epochs):
    code, _, err = run(
        capsys, "--source", trained_folder, "--epochs", epochs, "--corpus", tiny_corpus, "--out", tmp_path / "b"
    )
    assert code == 2 and err.startswith("bundle:") and "\n" not in err


def test_a_source_without_held_out_text_bundles_without_a_loss(tiny_corpus, tmp_path, capsys):
    source = tmp_path / "no-val"
    train(tiny_config(tiny_corpus, source, epochs=1, sample_length=0, val_fraction=0.0))
    code, printed, err = run(
        capsys, "--source", source, "--epochs", "1", "--corpus", tiny_corpus, "--out", tmp_path / "b"
    )
    assert code == 0, err
    assert "no held-out text" in printed
    assert Engine.load(tmp_path / "b").checkpoint.val_loss is None


def test_float16_bundles_are_smaller_and_generate_within_1e3(trained_folder, tiny_corpus, tmp_path, capsys):
    import numpy as np

    full, half = tmp_path / "full", tmp_path / "half"
    for out, extra in ((full, []), (half, ["--float16"])):
        code, _, _ = run(
            capsys, "--source", trained_folder, "--epochs", "1-2", "--corpus", tiny_corpus, "--out", out, *extra
        )
        assert code == 0
    engines = [Engine.load(full), Engine.load(half)]
    assert engines[1].checkpoint.metadata.extra["bundle"]["weights_dtype"] == "float16"
    sizes = [e.checkpoint.weights_path.stat().st_size for e in engines]
    assert sizes[1] < sizes[0]
    windows = np.random.default_rng(0).integers(0, len(engines[0].vocabulary), size=(64, 12))
    difference = np.abs(engines[0].window_probabilities(windows) - engines[1].window_probabilities(windows))
    assert 0 < difference.max() < 1e-3
    import keras

    # Plain Keras computes what the engine computes: float16 on disk, float32 in the model.
    model = keras.models.load_model(engines[1].checkpoint.weights_path)
    assert model.layers[0].dtype_policy.name == "float32"
    one_hot = np.eye(len(engines[1].vocabulary), dtype=np.float32)[windows]
    assert np.abs(model.predict(one_hot, verbose=0) - engines[1].window_probabilities(windows)).max() < 1e-5


def test_out_with_anything_but_an_earlier_bundle_is_refused_and_kept(trained_folder, tiny_corpus, tmp_path, capsys):
    import shutil

    out = tmp_path / "used"
    shutil.copytree(trained_folder, out)  # another run's checkpoints, log and events
    (out / "epoch_notes.txt").write_text("what I saw at epoch 2")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, _, err = run(capsys, "--source", trained_folder, "--epochs", "1-2", "--corpus", tiny_corpus, "--out", out)
    assert code == 2 and "not only an earlier bundle of" in err and "\n" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.slow  # real processes or a training run: the slow step
def test_a_corpus_of_several_files_bundles_as_the_trainer_read_it(tiny_corpus, tmp_path, capsys):
    first, second = tmp_path / "one.txt", tmp_path / "two.txt"
    text = tiny_corpus.read_text(encoding="utf-8")
    first.write_text(text[: len(text) // 2], encoding="utf-8")
    second.write_text(text[len(text) // 2 :], encoding="utf-8")
    source = tmp_path / "two-files"
    from dataclasses import replace

    train(replace(tiny_config(tiny_corpus, source, epochs=1, sample_length=0), corpus=(str(first), str(second))))
    code, _, err = run(capsys, "--source", source, "--epochs", "1", "--corpus", first, "--out", tmp_path / "b1")
    assert code == 2 and "same order" in err
    code, _, err = run(capsys, "--source", source, "--epochs", "1", "--corpus", first, second, "--out", tmp_path / "b2")
    assert code == 0, err


@pytest.mark.slow  # real processes or a training run: the slow step
def test_epochs_of_different_shapes_are_refused_in_one_line(trained_folder, tiny_corpus, tmp_path, capsys):
    import shutil

    wider = tmp_path / "wider"
    train(tiny_config(tiny_corpus, wider, epochs=2, sample_length=0, units=24))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for folder, epoch in ((trained_folder, 1), (wider, 2)):
        for suffix in (".json", ".keras"):
            shutil.copy(folder / f"epoch_{epoch:04d}{suffix}", mixed)
    code, _, err = run(capsys, "--source", mixed, "--epochs", "1-2", "--corpus", tiny_corpus, "--out", tmp_path / "b")
    assert code == 2 and "not all one architecture and vocabulary" in err and "\n" not in err
