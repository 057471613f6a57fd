"""Where the evidence is written: a writer process of its own (the default) or one thread, never the reactor.

:class:`~pipelines.evidence.EvidencePipeline` hands every write (HTML snapshots, screenshots, WARC records,
manifest lines) to :class:`EvidenceIO`, which runs them, in the order asked, on one
:class:`~pipelines.evidence.writer.EvidenceWriter`:

* ``process`` (``EVIDENCE_WRITER``, the default): the writer lives in a child process
  (:class:`netsword.sidecar.Sidecar`, started when the sweep opens). Its gzip, hashing and file writes run on
  the other core without touching the crawl's GIL: on a thread they cost the reactor about 0.5-0.9 ms of CPU
  per page on a fast site (GIL hand-overs, measured with ``bench.bench_distributed``), though they release
  the GIL in C. The reactor only queues plain data (a sending thread pickles it: the body bytes are copied
  once); the child's log lines and counters come back with its answers and are logged and counted in the
  crawl's process. If the
  child dies (killed, out of memory), the error is logged with the writes it was doing, a writer on a
  thread takes over (a new WARC segment; the manifest goes on from its last whole line) and does those
  writes again: the sweep goes on and no page loses its evidence.
* ``thread``: the writer on one thread of the crawl's process (gzip and file writes release the GIL).

``run()`` waits for the result (an item waits for its files before it goes on to the store);
``submit()`` does not (a WARC record of a response; an error is logged). Either way the write comes
after every write asked for before it.

Hand-overs are batched: the writes asked for within ``delay`` seconds (10 ms) go over together, and their
results come back to the reactor together (one wake-up per batch, whatever the pages per second). An
item waits at most ``delay`` longer for its evidence; other pages go on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netsword.sidecar import OffReactor
from pipelines.evidence.writer import EvidenceWriter, WriterConfig


class EvidenceIO(OffReactor):
    """One sweep's evidence writer (:class:`~pipelines.evidence.writer.EvidenceWriter`), off the reactor."""

    def __init__(self, config: WriterConfig, mode: str = "process", delay: float = 0.01,
                 on_counts: Callable[[dict[str, Any]], None] | None = None, name: str = "netsword-evidence") -> None:
        # the writer opens the sweep's files when built: a folder it cannot write fails the sweep's start
        super().__init__(EvidenceWriter, config, mode, delay, on_counts, name, what="evidence writer",
                         setting="EVIDENCE_WRITER")

    @property
    def segment(self) -> str:
        """The WARC segment written now, relative to the evidence root's ``warc`` folder ("" without WARC)."""
        return self.ready
