"""The house plan's arrows, checked on the code: who may import whom (README, "Layout").

Every import statement counts, also those inside functions: a lazy import is still an arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("crawler", "pipelines", "leads", "scheduling", "netsword", "cli", "scheduler")
#: packages that show a face (``__init__`` with ``__all__``): other rooms import the face, not its modules
FACES = ("pipelines.match", "pipelines.normalize", "pipelines.evidence")


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(ROOT.glob("**/*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] not in OURS and str(rel) not in ("cli.py", "scheduler.py"):  # not .venv/…/scheduler.py
            continue
        name = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        out.append((name, path))
    return out


def imports(path: Path, name: str) -> list[tuple[int, str]]:
    """(line, imported module) of every import in the file, relative ones resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            # `from pkg import mod` imports pkg.mod when mod is a module of pkg
            for a in node.names:
                sub = f"{base}.{a.name}"
                is_module = (ROOT / Path(*sub.split("."))).with_suffix(".py").exists() or \
                    (ROOT / Path(*sub.split("."))).is_dir()
                out.append((node.lineno, sub if is_module else base))
    return [(line, mod) for line, mod in out if mod.split(".")[0] in OURS]


def inside(mod: str, room: str) -> bool:
    return mod == room or mod.startswith(room + ".")


def violations() -> list[str]:
    bad = []
    for name, path in modules():
        for line, mod in imports(path, name):
            where = f"{path.relative_to(ROOT)}:{line}: {name} imports {mod}"
            if name == "crawler.items":
                bad.append(f"{where} (the item schema imports nothing of ours)")
            if inside(name, "netsword") and not inside(mod, "netsword"):
                bad.append(f"{where} (the configuration room is the foundation: it imports no other room)")
            if inside(name, "pipelines.store") and (inside(mod, "leads") or inside(mod, "cli")
                                                    or (inside(mod, "crawler") and mod != "crawler.items")):
                bad.append(f"{where} (the store imports only crawler.items of the other rooms)")
            if inside(name, "pipelines") and inside(mod, "leads"):
                bad.append(f"{where} (pipelines never import leads)")
            if inside(name, "leads") and inside(mod, "crawler") and mod != "crawler.items":
                bad.append(f"{where} (leads never import crawler; paths come from netsword.config)")
            if mod == "cli" and name != "cli":
                bad.append(f"{where} (no room imports the command line)")
            for face in FACES:
                private = inside(mod, face) and mod != face
                if private and not inside(name, face) and not (name == "cli" and mod.endswith(".commands")):
                    bad.append(f"{where} (import the face {face}, not its modules)")
    return list(dict.fromkeys(bad))


def test_rooms_import_only_what_the_plan_allows():
    assert violations() == []


def test_the_import_check_catches_a_broken_arrow(tmp_path, monkeypatch):
    """The checker itself: a store module that reaches up to leads/ is reported."""
    fake = ROOT / "pipelines" / "store" / "_arrow_probe.py"
    fake.write_text("def f():\n    from leads.leads import build_leads\n    return build_leads\n", encoding="utf-8")
    try:
        found = [v for v in violations() if "_arrow_probe" in v]
    finally:
        fake.unlink()
    assert found and "pipelines/store/_arrow_probe.py:2" in found[0] and "leads.leads" in found[0]


@pytest.mark.parametrize("face", FACES)
def test_each_face_exports_what_it_names(face):
    import importlib

    mod = importlib.import_module(face)
    assert mod.__all__ and all(hasattr(mod, n) for n in mod.__all__)


def test_every_setting_a_stage_reads_is_declared_in_crawler_settings():
    """``settings.get*("NAME")`` anywhere in the code: NAME has a default and a comment in crawler/settings.py."""
    import re

    import scrapy.settings.default_settings as scrapy_defaults

    import crawler.settings as ours

    pattern = re.compile(r"""\bs(?:ettings)?\.get(?:bool|int|float|list|dict)?\(\s*["']([A-Z][A-Z0-9_]+)["']""")
    read = set()
    for _, path in modules():
        read |= set(pattern.findall(path.read_text(encoding="utf-8")))
    undeclared = sorted(n for n in read if not hasattr(ours, n) and not hasattr(scrapy_defaults, n))
    assert read and undeclared == []
