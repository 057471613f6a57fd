"""One line of a verification report: what was checked, whether it holds, said in Chinese and English.

``netsword evidence verify`` (a sweep or a bundle) prints one :class:`Check` per thing it
checked -- the files' hashes, the manifest's hash chain, the signature, the timestamp token --
and fails (exit 1) when any of them failed. A warning (``warn``) is something a reader must
know but that does not make the evidence wrong: no trusted timestamp (the time is the
machine's own), no expected key to compare the signer with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "fail", "warn"]

MARKS: dict[str, str] = {"ok": "✓", "fail": "✗", "warn": "!"}


@dataclass(frozen=True)
class Check:
    status: Status
    zh: str
    en: str

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    @property
    def mark(self) -> str:
        return MARKS[self.status]

    def text(self) -> str:
        """``中文 / English`` (one line)."""
        return f"{self.zh} / {self.en}"

    def __str__(self) -> str:
        return f"{self.mark} {self.text()}"


def ok(zh: str, en: str) -> Check:
    return Check("ok", zh, en)


def fail(zh: str, en: str) -> Check:
    return Check("fail", zh, en)


def warn(zh: str, en: str) -> Check:
    return Check("warn", zh, en)
