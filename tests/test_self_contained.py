"""`make test` passes in a clone with nothing beside it: no test (or the Makefile, or a script) reads
files outside the repository (a folder beside the clone); what a test needs is vendored (tests/files/)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Paths that leave the repository: a tests/ file's parents[2], "../x", a "shared" path part.
OUTSIDE = re.compile(r"parents\[[2-9]\]|[\"']\.\./|[\"']shared[\"']|/ *[\"']shared[\"']")


def _code_lines(path: Path) -> list[tuple[int, str]]:
    out, in_doc = [], False
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        quotes = stripped.count('"""') + stripped.count("'''")
        if in_doc or stripped.startswith(('"""', "'''", "#")):
            in_doc = in_doc != (quotes % 2 == 1)
            continue
        out.append((n, line))
    return out


def test_no_test_reads_outside_the_repository():
    files = [*ROOT.glob("tests/**/*.py"), ROOT / "Makefile", *ROOT.glob("scripts/*")]
    hits = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}" for path in files if path.is_file()
            for n, line in _code_lines(path) if OUTSIDE.search(line) and path != Path(__file__).resolve()]
    assert not hits, "reads outside the repository (vendor the data into tests/files/):\n" + "\n".join(hits)
