"""utils/ in layers: each module imports only from its own layer and the layers beneath it (docs/shared-code.md)."""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

UTILS = Path(__file__).resolve().parent.parent / "utils"
FOUNDATIONS = {"errors", "settings", "paths", "assets", "hardware", "tokens"}
LAYERS = {"foundations": 0, "client": 1, "sandbox": 1, "standins": 2, "lessons": 3, "profile": 4, "sizes": 0}


def layer_of(module: str) -> str:
    """'client.chat' -> 'client'; 'errors' -> 'foundations'; a lesson module -> 'lessons'."""
    top = module.split(".")[0]
    if top in ("client", "sandbox", "standins", "profile", "sizes"):
        return top
    return "foundations" if top in FOUNDATIONS else "lessons"


def imports_of(path: Path, root: Path = UTILS) -> set[str]:
    """The kit modules a file imports, at its top or inside a function, as dotted names under root (utils/)."""
    here = path.relative_to(root).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(here[: len(here) - node.level + 1])
            if node.module:
                found.add(".".join([*base, node.module]))
            else:
                found |= {".".join([*base, alias.name]) for alias in node.names}
    return {name for name in found if name}


def layer_violations(root: Path = UTILS) -> list[str]:
    """Each import of a module from a higher layer than the importing module's, as a sentence."""
    wrong = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "__init__.py":
            continue  # a package's front door re-exports what is beneath it
        name = ".".join(path.relative_to(root).with_suffix("").parts)
        for imported in imports_of(path, root):
            if LAYERS[layer_of(imported)] > LAYERS[layer_of(name)]:
                wrong.append(f"{name} ({layer_of(name)}) imports {imported} ({layer_of(imported)})")
    return wrong


def test_every_module_imports_only_from_its_layer_or_beneath():
    assert layer_violations() == []


def test_the_layer_check_reports_a_client_module_that_imports_a_lesson(tmp_path):
    """The check above can fail: a client module importing a lesson module, inside a function, is reported."""
    (tmp_path / "client").mkdir()
    (tmp_path / "client" / "costs.py").write_text("def f():\n    from ..catalog import model_facts\n")
    (tmp_path / "catalog.py").write_text("from .errors import BadInputError\n")  # a lesson importing beneath: fine
    assert layer_violations(tmp_path) == ["client.costs (client) imports catalog (lessons)"]
