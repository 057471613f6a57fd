"""The manifest's hash chain: each record carries its number and the SHA-256 of the record before it.

Every JSON line of a sweep's manifest has two chain fields besides the page's own:

* ``seq`` -- the record's number, 1 for the first, one more for each line (a resumed sweep
  goes on from the last line kept);
* ``prev`` -- the SHA-256 (hex) of the previous line's bytes (UTF-8, without its newline),
  ``""`` for the first line.

So a line removed, two lines swapped, a line changed or the end cut off shows: the numbers
have a gap or run backwards, a ``prev`` no longer matches the line before. The last line's
hash (the *chain head*) and the number of lines go into the sweep's signed seal
(:mod:`pipelines.evidence.seal`), which is what shows a manifest cut at the end.

:func:`check_chain` names each break it finds; it reads bytes, so a manifest inside an evidence
bundle is checked the same way as one on disk.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netsword.digests import sha256_bytes

from .checks import Check, fail, ok, warn

#: how many places of one kind a report names before it says "and N more"
MAX_NAMED = 6
#: the ``prev`` given to lines written before chained manifests (nothing to check)
LEGACY = "\x00legacy"


def line_hash(line: bytes) -> str:
    """The SHA-256 a line is chained by (its bytes without the newline)."""
    return sha256_bytes(line.rstrip(b"\r\n"))


def chain_tail(path: Path) -> tuple[int, str]:
    """(``seq`` of the last line, its hash) of a manifest on disk; (0, "") when empty.

    Reads only the end of the file. A manifest written before chains (no ``seq``) counts its lines.
    """
    if not path.exists() or path.stat().st_size == 0:
        return 0, ""
    last = _last_line(path)
    try:
        seq = json.loads(last).get("seq")
    except (ValueError, AttributeError):
        seq = None
    if not isinstance(seq, int):
        with open(path, "rb") as fh:
            seq = sum(1 for line in fh if line.strip())
    return seq, line_hash(last)


def _last_line(path: Path) -> bytes:
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        block = 4096
        while True:
            start = max(0, size - block)
            fh.seek(start)
            data = fh.read(size - start).rstrip(b"\n")
            cut = data.rfind(b"\n")
            if cut >= 0 or start == 0:
                return data[cut + 1:]
            block *= 4


@dataclass
class ChainReport:
    """What :func:`check_chain` found: the records read, the head, and one Check per kind of break."""

    lines: int = 0
    last_seq: int = 0
    head: str = ""
    chained: bool = True
    checks: list[Check] = field(default_factory=list)
    #: html sha256 -> (line number, entry) of every page line (for bundles: where a snapshot is listed)
    pages: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(c.failed for c in self.checks)


def _named(items: list[str]) -> str:
    more = len(items) - MAX_NAMED
    return ", ".join(items[:MAX_NAMED]) + (f" (+{more})" if more > 0 else "")


def _span(a: int, b: int) -> tuple[str, str]:
    return (f"第 {a} 条", f"record #{a}") if a == b else (f"第 {a}–{b} 条", f"records #{a}–#{b}")


def check_chain(data: bytes, name: str, *, sealed_lines: int | None = None,
                sealed_head: str | None = None) -> ChainReport:
    """Check a manifest's chain (``data``: the file's bytes; ``name`` for messages).

    ``sealed_lines`` / ``sealed_head``: the record count and last line's hash the sweep's seal
    says it closed with (None: not sealed), to catch a manifest cut at the end.
    """
    report = ChainReport()
    raw = data.split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    records: list[tuple[int, int | None, str | None, str]] = []  # (line no, seq, prev, hash)
    unreadable: list[str] = []
    unchained: list[int] = []
    for n, line in enumerate(raw, 1):
        if not line.strip():
            continue
        report.lines += 1
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if not isinstance(entry, dict):
            unreadable.append(str(n))
            records.append((n, None, None, line_hash(line)))
            continue
        if "prev" not in entry and "seq" not in entry:
            unchained.append(n)
        seq, prev = entry.get("seq"), entry.get("prev")
        records.append((n, seq if isinstance(seq, int) else None, prev if isinstance(prev, str) else None,
                        line_hash(line)))
        sha = entry.get("html_sha256")
        if sha and entry.get("kind") != "screenshot" and sha not in report.pages:
            report.pages[sha] = (n, entry)
    if records:
        report.head = records[-1][3]
    checks = report.checks
    if unreadable:
        checks.append(fail(f"{name}：第 {_named(unreadable)} 行不是 JSON", f"{name}: line {_named(unreadable)} "
                           "is not a JSON record"))
    if records and len(unchained) == len(records):
        report.chained = False
        checks.append(warn(f"{name}：没有哈希链（在哈希链功能之前写成），删除或调换记录无法从清单本身看出",
                           f"{name}: no hash chain (written before chained manifests); removed or reordered "
                           "records cannot be told from the manifest itself"))
        return report
    if unchained and unchained == [r[0] for r in records[:len(unchained)]]:
        # a sweep begun before chained manifests and resumed after: its first lines carry no chain
        # fields; they count as records 1..k and the chain starts after them
        k = len(unchained)
        records[:k] = [(r[0], i, LEGACY, r[3]) for i, r in enumerate(records[:k], 1)]
        checks.append(warn(f"{name}：前 {k} 行在哈希链功能之前写成，不在链中",
                           f"{name}: the first {k} lines were written before chained manifests and are not chained"))
    numbered = [r for r in records if r[1] is not None]
    if len(numbered) < len(records) - len(unreadable):
        missing = [str(r[0]) for r in records if r[1] is None and str(r[0]) not in unreadable]
        checks.append(fail(f"{name}：第 {_named(missing)} 行没有记录编号（seq）",
                           f"{name}: line {_named(missing)} has no record number (seq)"))
    by_seq: dict[int, tuple[int, int | None, str | None, str]] = {}
    twice: list[str] = []
    for r in numbered:
        assert r[1] is not None
        if r[1] in by_seq:
            twice.append(f"#{r[1]}")
        else:
            by_seq[r[1]] = r
    if twice:
        checks.append(fail(f"{name}：记录重复出现：{_named(twice)}", f"{name}: records appear twice: {_named(twice)}"))
    report.last_seq = max(by_seq, default=0)
    _check_order(numbered, name, checks)
    _check_gaps_and_links(by_seq, name, checks)
    _check_end(report, by_seq, name, sealed_lines, sealed_head, checks)
    if not any(c.failed for c in checks):
        sealed = "，与封存时一致" if sealed_lines is not None else ""
        sealed_en = ", as sealed" if sealed_lines is not None else ""
        checks.append(ok(f"哈希链完整：{report.lines} 条记录，无删除、无调换、无改动{sealed}",
                         f"hash chain intact: {report.lines} records, none removed, reordered or changed{sealed_en}"))
    return report


def _check_order(numbered: list[tuple[int, int | None, str | None, str]], name: str, checks: list[Check]) -> None:
    """Lines whose record number is not where ascending order puts it: moved (swapped, reordered)."""
    seqs = [r[1] for r in numbered]
    want = sorted(s for s in seqs if s is not None)
    moved = [f"第 {r[0]} 行是第 {r[1]} 条" for r, s in zip(numbered, want, strict=True) if r[1] != s]
    moved_en = [f"line {r[0]} holds record #{r[1]}" for r, s in zip(numbered, want, strict=True) if r[1] != s]
    if moved:
        checks.append(fail(f"记录顺序被调换：{name} {_named(moved)}",
                           f"records reordered: {name} {_named(moved_en)}"))


def _check_gaps_and_links(by_seq: dict[int, tuple[int, int | None, str | None, str]], name: str,
                          checks: list[Check]) -> None:
    """In record-number order: a number skipped is a record removed; a ``prev`` that does not match
    the record before is a record changed."""
    removed: list[tuple[str, str]] = []
    changed: list[tuple[str, str]] = []
    first_bad: list[tuple[str, str]] = []
    expected, prev_hash, prev_line = 1, "", 0
    for seq in sorted(by_seq):
        line, _, prev, digest = by_seq[seq]
        if seq > expected:
            zh, en = _span(expected, seq - 1)
            where = f"在第 {prev_line} 行与第 {line} 行之间" if prev_line else f"在第 {line} 行之前"
            where_en = f"between lines {prev_line} and {line}" if prev_line else f"before line {line}"
            removed.append((f"{zh}记录（{where}）", f"{en} ({where_en})"))
        elif prev == LEGACY:
            pass
        elif seq == 1 and prev != "":
            first_bad.append((f"第 {line} 行", f"line {line}"))
        elif seq > 1 and prev != prev_hash:
            changed.append((f"第 {prev_line} 行（第 {seq - 1} 条）", f"line {prev_line} (record #{seq - 1})"))
        expected, prev_hash, prev_line = seq + 1, digest, line
    if removed:
        checks.append(fail(f"记录被删除：{name} 缺少 {_named([z for z, _ in removed])}",
                           f"records removed: {name} lacks {_named([e for _, e in removed])}"))
    if changed:
        checks.append(fail(f"记录被改动：{name} {_named([z for z, _ in changed])} 的哈希与下一条记录所记不符",
                           f"record changed: {name} {_named([e for _, e in changed])} no longer hashes to what the "
                           "next record carries"))
    if first_bad:
        checks.append(fail(f"哈希链起点被改动：{name} {first_bad[0][0]}（第 1 条记录的 prev 应为空）",
                           f"chain start changed: {name} {first_bad[0][1]} (record #1 must have an empty prev)"))


def _check_end(report: ChainReport, by_seq: dict[int, tuple[int, int | None, str | None, str]], name: str,
               sealed_lines: int | None, sealed_head: str | None, checks: list[Check]) -> None:
    if sealed_lines is None:
        return
    last = report.last_seq
    if last < sealed_lines:
        zh, en = _span(last + 1, sealed_lines)
        checks.append(fail(f"清单末尾被截断：{name} 封存时有 {sealed_lines} 条记录，现缺少{zh}",
                           f"manifest truncated: {name} was sealed with {sealed_lines} records; {en} missing "
                           "at the end"))
    elif last > sealed_lines:
        zh, en = _span(sealed_lines + 1, last)
        checks.append(fail(f"封存后被追加记录：{name} {zh}", f"records added after the seal: {name} {en}"))
    elif sealed_head and by_seq.get(last) and by_seq[last][3] != sealed_head:
        line = by_seq[last][0]
        checks.append(fail(f"记录被改动：{name} 第 {line} 行（最后一条）与封存时的哈希不符",
                           f"record changed: {name} line {line} (the last record) differs from the sealed hash"))
