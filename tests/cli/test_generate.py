"""`nietzsche-tui generate`: the book's printed format, JSON for scripts, clear errors."""

import json

import pytest

from nietzsche_tui.cli.main import main
from nietzsche_tui.engine.generation import Engine, GenerationRequest


def run(capsys, *args):
    code = main(["generate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_plain_output_prints_a_section_per_temperature_like_the_book(app_model, capsys):
    code, out, err = run(
        capsys, "--checkpoint", str(app_model), "--prompt", "What then? Is there", "--seed", "4", "--length", "50"
    )
    assert code == 0
    engine = Engine.load(app_model)
    steps = list(engine.generate(GenerationRequest("What then? Is there", length=50, seed=4)))
    seed = "what then? is there"
    assert out.startswith(f'--- Generating with seed: "{seed}"\n')
    sections = out.split("------ temperature: ")[1:]
    assert [s.split("\n", 1)[0] for s in sections] == ["0.2", "0.5", "1.0", "1.2"]
    for column, section in enumerate(sections):
        body = section.split("\n", 1)[1].rstrip("\n")
        assert body == seed + "".join(s.chars[column] for s in steps)
    assert "seed 4" in err and "mode window" in err


def test_json_output_is_one_object_per_temperature(app_model, capsys):
    code, out, err = run(
        capsys,
        "--checkpoint",
        str(app_model),
        "--prompt",
        "Truth! 🎉",
        "--seed",
        "9",
        "--length",
        "30",
        "--temperatures",
        "0,1.0",
        "--json",
        "--mode",
        "stateful",
        "--top-k",
        "5",
    )
    assert code == 0
    objects = [json.loads(line) for line in out.splitlines()]
    assert [o["temperature"] for o in objects] == [0.0, 1.0]
    for o in objects:
        assert len(o["text"]) == 30 and len(o["probabilities"]) == 30
        assert o["seed"] == 9 and o["mode"] == "stateful" and o["top_k"] == 5 and o["checkpoint"].endswith(".json")
        assert o["dropped"] == ["🎉"]
    assert "dropped characters the model does not know: '🎉'" in err


def test_the_same_seed_gives_the_same_text(app_model, capsys):
    args = ("--checkpoint", str(app_model), "--prompt", "what then", "--seed", "12", "--json", "--length", "40")
    assert run(capsys, *args)[1] == run(capsys, *args)[1]


def test_surprise_uses_a_stored_passage(app_model, capsys):
    code, out, _ = run(capsys, "--checkpoint", str(app_model), "--surprise", "--seed", "1", "--length", "10")
    assert code == 0 and 'seed: "what then? is there "' in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prompt", ""], "the prompt is empty"),
        (["--prompt", "🎉"], "no character the model knows"),
        (["--prompt", "truth", "--temperatures", "-1"], "temperatures must be finite"),
        (["--prompt", "truth", "--temperatures", "hot"], "comma-separated numbers"),
        (["--prompt", "truth", "--top-p", "2"], "top-p must be in (0, 1]"),
        (["--prompt", "truth", "--mode", "beam"], "invalid choice"),
        (["--prompt", "truth", "--length", "-5"], "must be 0 or more"),
    ],
)
def test_bad_arguments_are_one_line_and_a_non_zero_exit(app_model, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        code = main(["generate", "--checkpoint", str(app_model), *args])
        raise SystemExit(code)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2
    assert message in err and len(err.splitlines()) == 1


def one_line_error(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "\n" not in err and err.startswith("nietzsche-tui")
    return err


def test_the_apps_own_argument_errors_are_one_line(capsys):
    assert "--length" in one_line_error(capsys, ["--length", "many"])
    assert "unrecognized" in one_line_error(capsys, ["--no-such-flag"])


def test_empty_temperature_values_are_refused(capsys):
    assert "empty value" in one_line_error(capsys, ["generate", "--temperatures", "0.5,,1"])
    assert "empty value" in one_line_error(capsys, ["--temperatures", "0.5,"])


def test_options_before_the_command_word_are_honoured(app_model, capsys):
    code = main(
        [
            "--seed",
            "5",
            "--length",
            "7",
            "--temperatures",
            "0.5",
            "generate",
            "--checkpoint",
            str(app_model),
            "--prompt",
            "truth",
            "--json",
        ]
    )
    record = json.loads(capsys.readouterr().out)
    assert code == 0 and record["seed"] == 5 and len(record["text"]) == 7 and record["temperature"] == 0.5
    # Given on both sides, the one after the command word wins.
    main(["--seed", "5", "generate", "--seed", "6", "--checkpoint", str(app_model), "--prompt", "t", "--json"])
    assert {json.loads(line)["seed"] for line in capsys.readouterr().out.splitlines()} == {6}


def test_a_blank_prompt_is_refused_by_generate_as_by_the_app(app_model, capsys):
    code, _, err = run(capsys, "--checkpoint", str(app_model), "--prompt", "   ")
    assert code == 2 and "blank" in err
