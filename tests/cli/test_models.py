"""Models side by side headless: `generate --models` (each column equals that model alone; each
reads the prompt with its own vocabulary) and `score --models` (where they disagree most)."""

import json

import pytest

from nietzsche_tui.cli.main import main
from nietzsche_tui.engine.generation import Engine, GenerationRequest
from nietzsche_tui.engine.models import generate_models
from nietzsche_tui.locate import model_checkpoint
from tests.checkpoints import random_weights, write_checkpoint
from tests.conftest import TINY_TEXT

VOCABULARY = sorted(set(TINY_TEXT.lower()))
WITHOUT_MARKS = [c for c in VOCABULARY if c not in "?!"]  # a second vocabulary: no "?", no "!"


@pytest.fixture(scope="module")
def three_models(tmp_path_factory):
    """Two LSTMs of one shape (they run stacked) and a two-layer GRU with another vocabulary."""
    root = tmp_path_factory.mktemp("models")
    write_checkpoint(root / "a", random_weights(len(VOCABULARY), 16, seed=1), VOCABULARY, epoch=2, maxlen=20)
    write_checkpoint(root / "b", random_weights(len(VOCABULARY), 16, seed=2), VOCABULARY, epoch=5, maxlen=20)
    gru = random_weights(len(WITHOUT_MARKS), 12, seed=3, cell="gru", layers=2)
    write_checkpoint(root / "c", gru, WITHOUT_MARKS, epoch=1, maxlen=16)
    return [str(root / name) for name in ("a", "b", "c")]


def alone(folder, prompt, seed, length):
    generation = Engine.load(folder).generate(GenerationRequest(prompt, (0.5,), length, seed))
    return "".join(step.chars[0] for step in generation)


def test_each_column_equals_that_model_alone(three_models, capsys):
    prompt = "what then? it stands at all!"
    args = ["generate", "--models", ",".join(three_models), "--prompt", prompt, "--seed", "6", "--length", "30"]
    assert main([*args, "--json"]) == 0
    out, err = capsys.readouterr()
    columns = [json.loads(line) for line in out.splitlines()]
    assert [c["model"] for c in columns] == three_models and [c["name"] for c in columns] == ["a", "b", "c"]
    for folder, column in zip(three_models, columns, strict=True):
        assert column["text"] == alone(folder, prompt, 6, 30) and column["temperature"] == 0.5
    assert [c["dropped"] for c in columns] == [[], [], ["?", "!"]]  # the GRU's column only
    assert columns[2]["prompt"] == "what then it stands at all"[-16:]
    assert err.count("dropped characters") == 1 and "c: dropped" in err
    assert main([*args, "--json", "--alternatives", "60"]) == 0  # each column's own vocabulary
    columns = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {char for top in columns[2]["alternatives"] for char, _ in top} <= set(WITHOUT_MARKS)
    assert len(columns[2]["alternatives"][0]) == len(WITHOUT_MARKS)
    assert main(args) == 0  # plain text: a section per model, labelled with its size and loss
    out = capsys.readouterr().out
    assert out.count("------ model: ") == 3 and "c · " in out and " k · 1.457" in out


def test_models_of_one_shape_run_as_one_stacked_network(three_models, monkeypatch):
    from nietzsche_tui.engine import models

    stacked = []
    original = models.generate_epochs
    monkeypatch.setattr(
        models, "generate_epochs", lambda engines, request: stacked.append(len(engines)) or original(engines, request)
    )
    engines = [Engine.load(folder) for folder in three_models]
    generation = generate_models(engines, ["a", "b", "c"], GenerationRequest("truth", (0.5,), 5, 1))
    assert len(list(generation)) == 5 and stacked == [2]


def test_model_names_and_mistakes(three_models, tmp_path, capsys):
    assert model_checkpoint("book")[0] == "book"
    assert model_checkpoint(f"{three_models[1]}@5")[1].epoch == 5
    assert main(["generate", "--models", "book", "--prompt", "x"]) == 2
    assert "compare 2 to 8 models" in capsys.readouterr().err
    assert main(["generate", "--models", f"book,{tmp_path / 'none'}", "--prompt", "x"]) == 1
    assert main(["generate", "--models", "book,large", "--epochs", "--prompt", "x"]) == 2
    assert main(["generate", "--models", "book,large", "--temperatures", "0.2,1", "--prompt", "x"]) == 2


def test_score_models_lists_where_they_disagree_most(three_models, tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("Supposing that truth is a woman--what then? Is there not ground", encoding="utf-8")
    assert main(["score", str(text), "--models", ",".join(three_models[1:]), "--json", "--spans", "3"]) == 0
    record = json.loads(capsys.readouterr().out)
    b, c = (Engine.load(folder) for folder in three_models[1:])
    from nietzsche_tui.engine.analysis import score_text

    assert [m["bits_per_char"] for m in record["models"]] == [
        pytest.approx(score_text(b, text.read_text()).bits_per_char),
        pytest.approx(score_text(c, text.read_text()).bits_per_char),
    ]
    gaps = [abs(d["bits"][three_models[1]] - d["bits"][three_models[2]]) for d in record["disagreements"]]
    assert len(gaps) == 3 and gaps == sorted(gaps, reverse=True)
    assert record["models"][1]["skipped"] == ["?"] and record["models"][0]["skipped"] == []
