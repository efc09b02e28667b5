"""The layout shows the architecture, and the arrows point one way (README, "Layout"): each
layer imports only the layers below it. A module-level or function-level import of a higher
layer fails here, naming the file and the import."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Each layer and what it may import of ours (itself included). Lower layers first.
ALLOWED = {
    "contracts": {"contracts"},
    "text": set(),
    "locate": {"contracts"},
    "engine": {"engine", "contracts", "text"},
    "history": {"history", "contracts", "text"},
    "verbatim": {"verbatim", "contracts"},
    "runs": {"contracts"},
    "settings": {"contracts", "engine", "history", "verbatim"},
    "serve": {"serve", "runs", "locate", "contracts", "settings", "history"},
    "tui": {"tui", "contracts", "engine", "history", "verbatim", "locate", "runs", "text", "settings"},
    "cli": {"cli", "contracts", "engine", "history", "verbatim", "locate", "runs", "text", "settings", "serve", "tui"},
    "__main__": {"cli"},
    "__init__": set(),
}
# The trainer shares the contracts and the maths (the verbatim index measures its samples' copying),
# and the command-line toolkit alone of the CLI.
TRAINER_ALLOWED = {"contracts", "engine", "verbatim.index", "text", "cli.common", "__init__"}


def layer_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__init__"


def our_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nietzsche_tui"):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("nietzsche_tui")]
    return found


def test_the_app_imports_point_down_the_layers():
    wrong = []
    for path in sorted((ROOT / "nietzsche_tui").rglob("*.py")):
        parts = path.relative_to(ROOT / "nietzsche_tui").with_suffix("").parts
        layer = parts[0]
        for module in our_imports(path):
            target = layer_of(module)
            if target != "__init__" and target not in ALLOWED[layer] | {layer}:
                wrong.append(f"{path.relative_to(ROOT)} ({layer}) imports {module} ({target})")
    assert not wrong, "\n".join(wrong)


def test_the_trainer_imports_only_the_contracts_the_maths_and_the_cli_toolkit():
    wrong = []
    for path in sorted((ROOT / "trainer").rglob("*.py")):
        for module in our_imports(path):
            target = module.removeprefix("nietzsche_tui.") if module != "nietzsche_tui" else "__init__"
            if not any(target == allowed or target.startswith(allowed + ".") for allowed in TRAINER_ALLOWED):
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_layer_check_fails_for_an_upward_import(tmp_path):
    """The check above can fail: a contract that imported the UI would be named."""
    module = tmp_path / "bad.py"
    module.write_text("from nietzsche_tui.tui.app import make_app\n")
    target = layer_of(our_imports(module)[0])
    assert target == "tui" and target not in ALLOWED["contracts"]
