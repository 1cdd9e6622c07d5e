"""Import directions between the package's rooms: data flows source -> encoder -> index -> search
-> view, so a lower room never imports a higher one (every import counts, lazy ones included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "closp_demo"
CORE = {"sensors", "devices", "torch_compat", "gradio_compat", "settings", "__init__"}
# room -> the rooms it may import (itself and the shared core are always allowed)
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "geo": set(),
    "encoders": set(),
    "corpus": {"encoders", "geo"},
    "search": {"encoders", "corpus", "geo"},
    "upload": {"encoders", "corpus", "geo"},
    "evaluation": {"encoders", "corpus", "search", "geo"},
    "views": {"corpus", "search", "upload", "geo"},
    "service": {"encoders", "corpus", "search", "upload", "views", "evaluation", "geo"},
    # Gradio block builders for app.py (one module per screen); nothing imports them but app.py
    "ui": {"encoders", "corpus", "search", "upload", "views", "evaluation", "geo", "service"},
}


def room(module: str) -> str:
    """closp_demo.corpus.store -> "corpus"; closp_demo.sensors -> "core"."""
    parts = module.split(".")
    if parts[0] != "closp_demo":
        raise ValueError(module)
    if len(parts) == 1 or parts[1] in CORE:
        return "core"
    return parts[1]


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(rel.parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every closp_demo import in a file; relative imports as "<relative>"."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            found.append((node.lineno, "<relative>" if node.level else node.module or ""))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    ours = {"closp_demo", "<relative>"}
    return [(line, name) for line, name in found if name.split(".")[0] in ours]


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_belongs_to_a_known_room():
    unknown = {room(module_name(p)) for p in modules()} - set(ALLOWED)
    assert not unknown, f"rooms without import rules: {unknown}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_data_flow(path: Path):
    here = room(module_name(path))
    bad = []
    for line, name in imports_of(path):
        if name == "<relative>":
            bad.append(f"line {line}: relative import (use absolute closp_demo.* imports)")
            continue
        there = room(name)
        if there not in {here, "core"} | ALLOWED[here]:
            bad.append(f"line {line}: {here} imports {name} ({there})")
    assert not bad, "\n".join(bad)


def test_the_checker_catches_a_wrong_direction(tmp_path):
    """The rule table is enforced: a corpus module importing the views is flagged."""
    fake = tmp_path / "closp_demo" / "corpus" / "bad.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("def f():\n    from closp_demo.views.map import render_map\n")
    ((line, name),) = imports_of(fake)
    assert (line, room(name)) == (2, "views")
    assert room(name) not in ALLOWED["corpus"]
    assert "views" not in ALLOWED["search"]
