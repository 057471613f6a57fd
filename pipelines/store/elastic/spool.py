"""A local JSONL file of write operations that could not reach Elasticsearch.

One operation per line, appended and fsync'ed before the writer moves on, so an outage loses
nothing. ``replay`` hands the operations back in their order, in batches, and keeps in the file
only what has not been applied yet (rewritten atomically), so a replay that fails half-way can
simply be run again: applying an operation twice changes nothing (see ``elastic_docs``).
An exclusive ``flock`` keeps a sweep that spools and a ``netsword index replay`` from
interleaving.

Operations Elasticsearch refused (a mapping error, say) go to ``<spool>.rejected.jsonl`` with
the reason, to be looked at and replayed by hand: nothing is dropped silently.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

Op = dict[str, Any]


class Spool:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rejected_path = self.path.with_name(self.path.stem + ".rejected.jsonl")

    def __repr__(self) -> str:
        return f"Spool({str(self.path)!r})"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @staticmethod
    def _write(path: Path, lines: Sequence[str], mode: str) -> None:
        with open(path, mode, encoding="utf-8") as fh:
            fh.writelines(lines)
            fh.flush()
            os.fsync(fh.fileno())

    def append(self, ops: Sequence[Op]) -> None:
        if not ops:
            return
        lines = [json.dumps(op, ensure_ascii=False, default=str) + "\n" for op in ops]
        with self._locked():
            self._write(self.path, lines, "a")

    def reject(self, op: Op, reason: str) -> None:
        """Keep an operation Elasticsearch refused (no lock: one O_APPEND write of one line)."""
        line = json.dumps({"reason": reason, "op": op}, ensure_ascii=False, default=str) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write(self.rejected_path, [line], "a")

    def has_pending(self) -> bool:
        """Whether anything waits in the file (without reading it: cheap enough to ask before every read)."""
        try:
            return self.path.stat().st_size > 0
        except OSError:
            return False

    def pending(self) -> int:
        """How many operations wait in the file."""
        if not self.path.exists():
            return 0
        with open(self.path, "rb") as fh:
            return sum(1 for line in fh if line.strip())

    def rejected(self) -> int:
        if not self.rejected_path.exists():
            return 0
        with open(self.rejected_path, "rb") as fh:
            return sum(1 for line in fh if line.strip())

    def _read(self) -> list[Op]:
        if not self.path.exists():
            return []
        ops = []
        with open(self.path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    ops.append(json.loads(line))
                except json.JSONDecodeError as e:  # a torn last line after a crash: keep it for a human
                    self.reject({"line": line}, f"{self.path}:{n}: not JSON ({e})")
        return ops

    def replay(self, apply: Callable[[list[Op]], Any], batch_size: int = 500) -> int:
        """Apply the spooled operations in order, ``batch_size`` at a time; returns how many were applied.

        If ``apply`` raises, the operations not yet applied stay in the file and the error propagates.
        """
        with self._locked():
            ops = self._read()
            done = 0
            try:
                for i in range(0, len(ops), batch_size):
                    apply(ops[i:i + batch_size])
                    done = i + len(ops[i:i + batch_size])
            finally:
                rest = ops[done:]
                tmp = self.path.with_name(self.path.name + ".tmp")
                self._write(tmp, [json.dumps(op, ensure_ascii=False, default=str) + "\n" for op in rest], "w")
                os.replace(tmp, self.path)
                if not rest:
                    self.path.unlink(missing_ok=True)
            return done
