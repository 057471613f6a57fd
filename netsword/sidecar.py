"""A helper object in a child process of its own, fed batches of calls in order: work that holds the GIL
(JSON, SQL, gzip hand-overs) off the crawl's reactor and on another core.

:class:`OffReactor` is what a stage uses: calls batched every few milliseconds, run in order in a
:class:`Sidecar` (or on a thread), results to asyncio futures, a dead child taken over. The crawl's process
queues batches of ``(operation, arguments, wanted)``; a sending thread pickles and sends
them over a socket pair (the reactor never blocks on it); the child (a fresh interpreter, ``python -m
netsword.sidecar``: no copy of the reactor's threads, and the caller's ``__main__`` is not imported again)
builds its object with ``factory(config)`` and runs each batch in order with
``obj.call(op, args)``; a receiving thread hands each answer -- per call ``(ok, result or exception)``, the
object's counters (``obj.take_counts()``) and the child's log records -- to ``on_answer``, in order, and calls
``on_death`` once if the child goes away (killed, out of memory). :class:`OffReactor` then takes over on a
thread and redoes the batches that had no answer, and those answered while the object said it was not yet
durable (``obj.durable()``: a SQLite store's open batch dies with the child).

The child ignores SIGINT and SIGTERM (Ctrl-C and a service manager reach the whole process group: the crawl
stops gracefully and still has calls for it); it ends when the crawl is done with it or closes the pipe, after
``obj.close()`` (which must not mind being called again) -- also when the crawl's process died.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

#: where the object runs
MODES = ("process", "thread")
#: a batch: per call (operation, arguments, whether somebody waits for its result)
Batch = list[tuple[str, tuple[Any, ...], bool]]
#: what a batch gives back: per call (ok, result or exception), the object's counters, the child's log records,
#: and whether everything asked of the object so far is durable (``obj.durable()``: on disk, not in an open batch)
Answer = tuple[list[tuple[bool, Any]], dict[str, Any], list[logging.LogRecord], bool]


#: a job: the operation, its arguments, the reactor's future for its result (None: not waited for)
_Job = tuple[str, tuple[Any, ...], "asyncio.Future[Any] | None"]
logger = logging.getLogger(__name__)


class OffReactor:
    """An object that does a stage's writes, in order, off the reactor: in a :class:`Sidecar` process
    (``mode="process"``) or on one thread of this process (``"thread"``). Calls asked for within ``delay``
    seconds go over as one batch; :meth:`run` waits for a call's result, :meth:`submit` does not (a failure is
    logged). If the process dies, the error is logged, an object built here on the thread takes over and the
    batches that had no answer are run again.

    ``factory(config)`` builds the object (in the child: both must be picklable); it answers ``ping()``
    (:attr:`ready`), ``call(op, args)``, ``take_counts()``, ``durable()`` (everything asked so far is on disk:
    calls answered while it says False are done again if the child dies before it says True) and ``close()``."""

    def __init__(self, factory: Callable[[Any], Any], config: Any, mode: str = "process", delay: float = 0.01,
                 on_counts: Callable[[dict[str, Any]], None] | None = None, name: str = "netsword-sidecar",
                 what: str = "write", setting: str = "") -> None:
        if mode not in MODES:
            raise ValueError(f"{setting or 'mode'} must be one of {', '.join(MODES)}, not {mode!r}")
        self.factory, self.config = factory, config
        self.mode = mode
        self.delay = delay
        self.on_counts = on_counts
        self.what = what
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._process: Sidecar | None = None
        self._writer: Any = None  # the thread's object (thread mode, or after the child died)
        self._jobs: list[_Job] = []  # asked for, not yet handed over
        self._sent: deque[list[_Job]] = deque()  # handed to the process, not answered yet
        self._unsure: list[list[_Job]] = []  # answered, but not yet durable there (an open SQLite batch)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        if mode == "process":  # the child builds its object now: what cannot open fails here, at the start
            self._process = Sidecar(factory, config, self._answered, self._died, name=f"{name}-process")
            self.ready: Any = self._process.ready
        else:  # built on its thread (objects such as SQLite connections belong to the thread that made them)
            self._writer = self._thread.submit(factory, config).result()
            self.ready = self._thread.submit(self._writer.ping).result()

    @property
    def in_process(self) -> bool:
        """True while the object runs in its own process."""
        return self._process is not None

    @property
    def pid(self) -> int | None:
        """The process's id (None: the object runs on a thread)."""
        return self._process.pid if self._process is not None else None

    async def run(self, op: str, *args: Any) -> Any:
        """The object's operation ``op(*args)``; its result (or its exception)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._ask((op, args, future), loop)
        return await future

    def submit(self, op: str, *args: Any) -> None:
        """The object's operation ``op(*args)``, not waited for; an exception is logged."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # called outside the reactor: hand it over now
            loop = None
        self._ask((op, args, None), loop)

    def _ask(self, job: _Job, loop: asyncio.AbstractEventLoop | None) -> None:
        self._jobs.append(job)
        if loop is None:
            self.flush()
        elif self._timer is None:
            self._loop = loop
            self._timer = loop.call_later(self.delay, self.flush)

    def flush(self) -> None:
        """Hand the jobs asked for so far over now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._jobs:
            jobs, self._jobs = self._jobs, []
            self._hand_over(jobs)

    def _hand_over(self, jobs: list[_Job]) -> None:
        plain = [(op, args, future is not None) for op, args, future in jobs]
        if self._process is not None:
            self._sent.append(jobs)
            self._process.send(plain)
            return
        done = self._thread.submit(self._thread_run, plain)
        loop = self._loop
        done.add_done_callback(lambda f: self._call_soon(loop, self._settle, jobs, f.result()))

    def _thread_run(self, plain: Batch) -> Answer:
        assert self._writer is not None
        return run_batch(self._writer, plain), self._writer.take_counts(), [], True

    @staticmethod
    def _call_soon(loop: asyncio.AbstractEventLoop | None, fn: Callable[..., None], *args: Any) -> None:
        """``fn(*args)`` on the reactor; here when there is none (nobody waits then: logs and counters only)."""
        if loop is None or loop.is_closed():
            fn(*args)
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop closed meanwhile
            fn(*args)

    def _answered(self, answer: Answer) -> None:
        """(the receiving thread) The answer to the oldest batch sent."""
        self._call_soon(self._loop, self._settle_sent, answer)

    def _settle_sent(self, answer: Answer) -> None:
        if not self._sent:
            return
        jobs = self._sent.popleft()
        self._settle(jobs, answer)
        if answer[3]:  # all written so far is durable in the child: a death now loses none of it
            self._unsure.clear()
        else:
            self._unsure.append([(op, args, None) for op, args, _ in jobs])

    def _settle(self, jobs: list[_Job], answer: Answer) -> None:
        """(the reactor) The child's log lines in the crawl's log, the counters, each result to its waiter."""
        settle(answer, [future for _, _, future in jobs], logger, self.what, self.on_counts)

    def _died(self, why: str) -> None:
        """(the receiving thread) The child is gone."""
        self._call_soon(self._loop, self._take_over, why)

    def _take_over(self, why: str) -> None:
        """The process is gone: an object on the thread takes over and does the unanswered calls again."""
        if self._process is None:
            return
        process, self._process = self._process, None
        process.abandon()
        # the calls answered but not durable yet (they died with the child's open batch), then the unanswered ones
        unanswered = self._unsure + list(self._sent)
        self._unsure.clear()
        self._sent.clear()
        jobs = [job for batch in unanswered for job in batch]
        urls = sorted({getattr(a, "url", "") for _, args, _ in jobs for a in args if getattr(a, "url", "")})
        logger.error("%s process stopped (%s) with %d calls unanswered (%s); on a thread from now on, those calls "
                     "again", self.what, why, len(jobs), ", ".join(urls[:5]) or "no pages")
        self._writer = self._thread.submit(self.factory, self.config).result()
        self.ready = self._thread.submit(self._writer.ping).result()
        for batch in unanswered:
            self._hand_over(batch)

    def run_local(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """``fn(*args)`` on the thread (work of this process, e.g. sealing a closed manifest)."""
        return self._thread.submit(fn, *args)

    def shutdown(self) -> None:
        """Finish what was asked, then stop the process or thread (blocks until then)."""
        self.flush()
        if self._process is not None:
            self._process.close()
            self._process = None
        self._thread.shutdown(wait=True)


class CallTarget:
    """What :class:`OffReactor` asks of the object it runs, for a class to inherit: ``call`` by name, limited to
    the class's :attr:`OPERATIONS`, and :attr:`counts` taken with each answer. Subclasses add ``ping()``,
    ``durable()``, ``close()`` and the operations."""

    #: the operations that may be called by name
    OPERATIONS: frozenset[str] = frozenset()
    #: what the object is, in an error message ("no store operation 'x'")
    WHAT = "writer"

    counts: Counter[str]

    def call(self, op: str, args: tuple[Any, ...]) -> Any:
        if op not in self.OPERATIONS:
            raise ValueError(f"no {self.WHAT} operation {op!r}")
        return getattr(self, op)(*args)

    def take_counts(self) -> dict[str, int]:
        counts, self.counts = dict(self.counts), Counter()
        return counts

    def end_batch(self) -> None:
        """After each batch of calls, before its answer (e.g. commit what the batch wrote); nothing here."""


class Sidecar:
    """The child process and its two threads (see the module docstring). Blocks until the child's object is
    built; raises what building it raised."""

    def __init__(self, factory: Callable[[Any], Any], config: Any, on_answer: Callable[[Answer], None],
                 on_death: Callable[[str], None], name: str = "netsword-sidecar") -> None:
        mine, theirs = socket.socketpair()
        # a fresh interpreter running this module (not multiprocessing's spawn, which imports the caller's
        # __main__ again: a script without a main guard would start its sweep twice)
        self.process = subprocess.Popen([sys.executable, "-m", "netsword.sidecar", str(theirs.fileno())],
                                        pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        theirs.close()
        self._conn = Connection(mine.detach())
        try:
            self._conn.send(sys.path)  # first, so that the factory's module imports there as here
            self._conn.send((factory, config))
            ok, value = self._conn.recv()  # the child's object is built (or why not)
        except (EOFError, OSError) as exc:
            code = self._wait(5)
            self._conn.close()
            raise RuntimeError(f"{name} did not start (exit code {code})") from exc
        if not ok:
            self._wait(5)
            self._conn.close()
            raise value
        self.ready: Any = value  # what the object's ping() said
        self._on_answer, self._on_death = on_answer, on_death
        self._out: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._gone = False
        self._sender = threading.Thread(target=self._send_loop, name=f"{name}-send", daemon=True)
        self._receiver = threading.Thread(target=self._receive_loop, name=f"{name}-receive", daemon=True)
        self._sender.start()
        self._receiver.start()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def send(self, batch: Batch) -> None:
        """Queue a batch (never blocks)."""
        self._out.put(batch)

    def _send_loop(self) -> None:
        while True:
            batch = self._out.get()
            try:
                self._conn.send(batch)
            except (OSError, ValueError):  # the child is gone: the receiving thread says so
                return
            if batch is None:
                return

    def _receive_loop(self) -> None:
        while True:
            try:
                answer = self._conn.recv()
            except (EOFError, OSError) as exc:
                if not self._gone:
                    self._gone = True
                    code = self._wait(5)
                    self._on_death(f"exit code {code}" if code is not None else type(exc).__name__)
                return
            if answer is None:  # the child ran every batch and closed its object
                return
            self._on_answer(answer)

    def abandon(self) -> None:
        """The child died: nothing more is sent."""
        self._gone = True
        self._out.put(None)

    def close(self, timeout: float = 120) -> None:
        """Every batch sent is run and answered, the child's object closed and the child gone (blocks)."""
        self._out.put(None)
        self._sender.join()
        self._receiver.join(timeout)
        if self._wait(30) is None:
            self.process.kill()
            self.process.wait()
        self._conn.close()

    def _wait(self, timeout: float) -> int | None:
        """The child's exit code once it ended (None: still running after ``timeout`` seconds)."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def run_batch(obj: Any, batch: Batch) -> list[tuple[bool, Any]]:
    """The calls in order on ``obj``: (ok, result) each; a call's exception is its result."""
    out: list[tuple[bool, Any]] = []
    for op, args, _wanted in batch:
        try:
            out.append((True, obj.call(op, args)))
        except Exception as exc:  # raised to whoever waits; logged when nobody does
            out.append((False, exc))
    try:
        obj.end_batch()
    except Exception as exc:  # e.g. the batch's commit failed: none of its calls was kept
        out = [(False, exc) if ok else (ok, result) for ok, result in out]
    return out


def settle(answer: Answer, futures: list[Any], logger: logging.Logger, what: str,
           on_counts: Callable[[dict[str, Any]], None] | None = None) -> None:
    """(the reactor) An answer: the child's log records logged here, its counters to ``on_counts``, each result
    (or exception) to its asyncio future; a failure nobody waits for (``None`` future) logged as ``what``."""
    results, counts, records, _ = answer
    for record in records:  # as if logged here: this process's levels and handlers decide
        named = logging.getLogger(record.name)
        if named.isEnabledFor(record.levelno):
            named.handle(record)
    if counts and on_counts is not None:
        on_counts(counts)
    for future, (ok, result) in zip(futures, results, strict=True):
        if future is None:
            if not ok:
                logger.error("%s failed: %s", what, result, exc_info=result)
            continue
        if future.cancelled():
            continue
        if ok:
            future.set_result(result)
        else:
            future.set_exception(result)


class _Keep(logging.Handler):
    """(child) Keeps the log records for the next answer: the crawl's process logs them."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args, record.exc_info = record.getMessage(), None, None
        self.records.append(record)

    def take(self) -> list[logging.LogRecord]:
        records, self.records = self.records, []
        return records


def _child_main(fd: int) -> None:
    """(child) Build the object, then run batches until told to stop or the crawl is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn = Connection(fd)
    sys.path[:] = conn.recv()
    keep = _Keep()
    root = logging.getLogger()
    root.handlers[:] = [keep]
    root.setLevel(logging.INFO)
    try:
        factory, config = conn.recv()
        obj = factory(config)
        ready = obj.ping()
    except Exception as exc:
        conn.send((False, portable(exc)))
        return
    conn.send((True, ready))
    while True:
        try:
            batch = conn.recv()
        except EOFError:  # the crawl's process is gone: close what is open, so what was written stays
            obj.close()
            return
        if batch is None:  # the crawl is done with it (it closed the object itself, or closes it now)
            obj.close()
            conn.send(None)
            return
        results = [(ok, result if ok else portable(result)) for ok, result in run_batch(obj, batch)]
        conn.send((results, obj.take_counts(), keep.take(), obj.durable()))


def portable(exc: BaseException) -> BaseException:
    """``exc``, or its text in a RuntimeError where it cannot be pickled."""
    try:
        pickle.dumps(exc)
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


if __name__ == "__main__":  # python -m netsword.sidecar FD: the child of a Sidecar
    _child_main(int(sys.argv[1]))
