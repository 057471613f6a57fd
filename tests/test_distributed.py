"""The distributed mode against a real Redis (tests/redis_server.py) and the real `netsword` command:
`crawl --distributed` seeds a sweep, `netsword worker` processes sweep it into the store.

* two workers sweep the demo marketplace with the same listings, shops and findings as the
  embedded sweep (the session's ``demo_sweep``);
* one of three workers is killed (SIGKILL) at a random point, then the whole sweep is stopped and
  resumed by fresh workers: the result is the same, each page stored once;
* three workers keep a site's concurrency and delay together (the site counts and refuses),
  and robots.txt is fetched once;
* four processes write one SQLite store at once: nothing lost, no "database is locked".
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cli_helpers import ROOT
from polite_shop import CountingShop
from webhook_receiver import WebhookReceiver

TESTS = Path(__file__).resolve().parent
#: short leases and quick heartbeats, so that a killed worker's pages come back within seconds
FAST = ("-s", "NETSWORD_REDIS_LEASE_SECONDS=6", "-s", "NETSWORD_REDIS_HEARTBEAT=0.5",
        "-s", "EVIDENCE_FINDING_SCREENSHOTS=False", "-s", "NETSWORD_REDIS_BLOOM_CAPACITY=100000")


def _env(home: Path, redis_url: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "NETSWORD_HOME": str(home), "NETSWORD_REDIS_URL": redis_url, "COLUMNS": "200", **extra}
    env.pop("NETSWORD_STORE", None)
    return env


def start_worker(home: Path, redis_url: str, worker_id: str, *args: str, **env: str) -> subprocess.Popen:
    log = open(home / f"worker-{worker_id}.log", "w", encoding="utf-8")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen([sys.executable, "-m", "cli", "worker", "--once", "--id", worker_id, *FAST, *args],
                            cwd=ROOT, env=_env(home, redis_url, **env), stdout=log, stderr=subprocess.STDOUT)


def wait_all(procs: list[subprocess.Popen], timeout: float = 600) -> None:
    for proc in procs:
        proc.wait(timeout=timeout)


def seed(home: Path, redis_url: str, site: str, base_url: str, sweep_id: str, **env: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "cli", "crawl", "--site", site, "--base-url", base_url,
                           "--sweep-id", sweep_id, "--distributed"], cwd=ROOT, env=_env(home, redis_url, **env),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"sweep {sweep_id} seeded" in proc.stdout


def store_view(db: Path, sweep_id: str) -> dict[str, object]:
    """What a user checks after a sweep: its pages, listings, shops, findings -- and pages stored twice."""
    con = sqlite3.connect(db)
    try:
        q = lambda sql: {r[0] for r in con.execute(sql, (sweep_id,))}  # noqa: E731
        twice = con.execute("SELECT url, COUNT(*) FROM snapshots WHERE sweep_id=? GROUP BY url HAVING COUNT(*) > 1",
                            (sweep_id,)).fetchall()
        return {"pages": q("SELECT url FROM page_states WHERE sweep_id=?"),
                "listings": q("SELECT subject_id FROM subject_sweeps WHERE kind='listing' AND sweep_id=?"),
                "shops": q("SELECT subject_id FROM subject_sweeps WHERE kind='shop' AND sweep_id=?"),
                "findings": q("SELECT finding_id FROM finding_sweeps WHERE sweep_id=?"),
                "twice": twice}
    finally:
        con.close()


def redis_client(url: str):
    import redis

    return redis.Redis.from_url(url)


def worker_pages(r, sweep_id: str, worker_id: str) -> int:
    raw = r.hget(f"netsword:sweep:{sweep_id}:workers", worker_id)
    return int(json.loads(raw)["stats"].get("response_received_count", 0)) if raw else 0


def _same_as_embedded(view: dict, reference: dict) -> None:
    for key in ("pages", "listings", "shops", "findings"):
        assert view[key] == reference[key], (key, len(view[key]), len(reference[key]),
                                             sorted(view[key] ^ reference[key])[:10])
    assert view["twice"] == []


@pytest.fixture(scope="module")
def embedded(demo_sweep):
    view = store_view(demo_sweep["db"], demo_sweep["sweep_id"])
    assert len(view["listings"]) > 300 and len(view["findings"]) > 40
    return view


def test_crawl_distributed_and_two_workers_find_what_the_embedded_sweep_finds(tmp_path, redis_url, demo_server,
                                                                              embedded):
    seed(tmp_path, redis_url, "demo", demo_server.url, "demo-dist")
    workers = [start_worker(tmp_path, redis_url, f"w{i}") for i in range(2)]
    wait_all(workers)
    assert [w.returncode for w in workers] == [0, 0]
    view = store_view(tmp_path / "netsword.db", "demo-dist")
    _same_as_embedded(view, embedded)
    r = redis_client(redis_url)
    beats = {k.decode(): json.loads(v) for k, v in r.hgetall("netsword:sweep:demo-dist:workers").items()}
    assert set(beats) == {"w0", "w1"} and all(b["ended"] for b in beats.values())
    assert all(b["stats"].get("response_received_count", 0) > 0 for b in beats.values()), "both workers took pages"
    # the sweep is finished, in Redis and in the store (with the workers' counts)
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "runs", "list", "--all"], cwd=ROOT, env=_env(tmp_path, redis_url),
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "finished" in proc.stdout, proc.stdout + proc.stderr
    con = sqlite3.connect(tmp_path / "netsword.db")
    finished, stats = con.execute("SELECT finished_at, stats FROM sweeps WHERE sweep_id='demo-dist'").fetchone()
    con.close()
    assert finished and json.loads(stats)["netsword/listings"] == len(embedded["listings"])


def test_a_killed_worker_loses_nothing_and_a_stopped_sweep_resumes(tmp_path, redis_url, demo_server, embedded):
    rng = random.Random()
    seed_value = rng.randrange(10**6)
    rng.seed(seed_value)
    kill_after = rng.randint(5, 60)  # pages the victim has fetched when it is killed
    print(f"random seed {seed_value}: killing w1 after {kill_after} of its pages")
    seed(tmp_path, redis_url, "demo", demo_server.url, "demo-kill")
    r = redis_client(redis_url)
    # the victim starts first and the others once it has taken its first page: on a quiet machine two warm
    # workers could otherwise sweep the whole demo before a slow-starting third one reached its kill point
    workers = {"w1": start_worker(tmp_path, redis_url, "w1")}
    deadline = time.monotonic() + 300
    while worker_pages(r, "demo-kill", "w1") < 1:
        assert workers["w1"].poll() is None and time.monotonic() < deadline, "w1 never took a page"
        time.sleep(0.05)
    workers.update({f"w{i}": start_worker(tmp_path, redis_url, f"w{i}") for i in (0, 2)})
    while worker_pages(r, "demo-kill", "w1") < kill_after:
        assert workers["w1"].poll() is None, "w1 left before its kill point: the sweep ran out of pages"
        assert time.monotonic() < deadline, "w1 never reached its pages"
        time.sleep(0.05)
    workers["w1"].send_signal(signal.SIGKILL)
    workers["w1"].wait()
    # the alarm: a worker that stopped beating, through the alert channel (a webhook here), once
    time.sleep(2.5)
    with WebhookReceiver() as hook:
        for _ in range(2):
            watch = subprocess.run([sys.executable, "-m", "cli", "runs", "watch", "--once", "--beat-timeout", "2"],
                                   cwd=ROOT, env=_env(tmp_path, redis_url, NETSWORD_ALERT_URLS=hook.url("/alarm")),
                                   capture_output=True, text=True, timeout=60)
            assert watch.returncode == 0, watch.stderr[-2000:]
        lost = [p for p in hook.received if "工作进程失联：w1" in p["json"]["title"]]
        assert len(lost) == 1, hook.received
    # then every worker is stopped, mid-sweep (if the sweep is not done already), and fresh ones resume it
    stop = subprocess.run([sys.executable, "-m", "cli", "runs", "stop", "demo-kill"], cwd=ROOT,
                          env=_env(tmp_path, redis_url), capture_output=True, text=True, timeout=60)
    wait_all([workers["w0"], workers["w2"]])
    if stop.returncode == 0:
        assert r.hget("netsword:sweep:demo-kill:info", "state") == b"stopped"
        resume = subprocess.run([sys.executable, "-m", "cli", "runs", "resume", "demo-kill"], cwd=ROOT,
                                env=_env(tmp_path, redis_url), capture_output=True, text=True, timeout=60)
        assert resume.returncode == 0, resume.stderr
        fresh = [start_worker(tmp_path, redis_url, f"w{i}") for i in (3, 4)]
        wait_all(fresh)
        assert [w.returncode for w in fresh] == [0, 0]
    else:  # the sweep had finished before the stop: the killed worker's pages were retaken already
        assert "finished" in stop.stderr
    assert r.hget("netsword:sweep:demo-kill:info", "state") == b"finished"
    assert r.zcard("netsword:sweep:demo-kill:queue") == 0 and r.zcard("netsword:sweep:demo-kill:queue:leases") == 0
    _same_as_embedded(store_view(tmp_path / "netsword.db", "demo-kill"), embedded)
    beats = [json.loads(v) for v in r.hgetall("netsword:sweep:demo-kill:workers").values()]
    assert sum(b.get("reclaimed", 0) for b in beats) >= 1, "pages of the killed worker went back to the queue"


# --- politeness across the cluster --------------------------------------------------------------
def test_three_workers_keep_the_sites_concurrency_and_delay_together(tmp_path, redis_url):
    shop = CountingShop(limit=2)  # tests/sites/polite.yml: concurrency 2, delay 0.1
    thread = threading.Thread(target=shop.serve_forever, daemon=True)
    thread.start()
    try:
        sites = {"NETSWORD_SITES_DIR": str(TESTS / "sites")}
        seed(tmp_path, redis_url, "polite", shop.url, "polite-1", **sites)
        workers = [start_worker(tmp_path, redis_url, f"w{i}", **sites) for i in range(3)]
        wait_all(workers, timeout=300)
    finally:
        shop.shutdown()
    assert [w.returncode for w in workers] == [0, 0, 0]
    view = store_view(tmp_path / "netsword.db", "polite-1")
    assert len(view["listings"]) == 60
    assert not any("/private/" in u for u in view["pages"]), "robots.txt was obeyed"
    assert shop.refused == 0 and shop.max_active <= 2, (shop.refused, shop.max_active)
    assert shop.robots == 1, f"robots.txt fetched {shop.robots} times by three workers"
    # the delay: requests start 0.1 s apart in the whole cluster (one may reach the server late, the next
    # on time, so single gaps seen here vary; their sum cannot be shorter)
    span, n = max(shop.starts) - min(shop.starts), len(shop.starts)
    assert span >= 0.8 * 0.1 * (n - 1), f"{n} requests in {span:.2f} s (the profile asks 0.1 s between them)"
    r = redis_client(redis_url)
    beats = [json.loads(v) for v in r.hgetall("netsword:sweep:polite-1:workers").values()]
    assert sum(1 for b in beats if b["stats"].get("response_received_count")) >= 2, "the work was shared"


# --- the SQLite store under four writers --------------------------------------------------------
WRITER = """
import sys
sys.path.insert(0, {tests!r})
from store_contract.store_builders import finding, listing
from pipelines.store import open_store
store = open_store({url!r})
w = sys.argv[1]
for i in range(150):
    item = listing(f"{{w}}-{{i}}", f"高仿运动鞋 {{w}} {{i}}", sweep="many", shop_id=f"shop-{{w}}")
    item.findings = [finding(item)]
    store.save(item)
store.close()
"""


def test_four_writers_share_one_sqlite_store_without_loss(tmp_path):
    url = f"sqlite:///{tmp_path / 'netsword.db'}"
    code = WRITER.format(tests=str(TESTS), url=url)
    procs = [subprocess.Popen([sys.executable, "-c", code, f"p{n}"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for n in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [e[-2000:] for _, e in outs]
    assert not any("locked" in e for _, e in outs)
    con = sqlite3.connect(tmp_path / "netsword.db")
    try:
        assert con.execute("SELECT COUNT(*) FROM listings").fetchone()[0] == 600
        assert con.execute("SELECT COUNT(*) FROM findings").fetchone()[0] == 600
    finally:
        con.close()


def _store_settings(worker: bool):
    """The project's settings, as a crawl (worker or embedded) has them."""
    from scrapy.settings import Settings

    from crawler import settings as project
    from crawler.distributed.worker import worker_settings

    base = Settings()
    base.setmodule(project)
    return worker_settings(base, "lock-1", "redis://127.0.0.1:1/0") if worker else base


def _other_writer_starts_at_once(path) -> bool:
    """Whether another process's write transaction (another worker's) can begin now, without waiting."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)  # no waiting for the lock
    try:
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            return False
        assert other.execute("SELECT COUNT(*) FROM listings").fetchone()[0] == 1  # and sees the item
        other.execute("ROLLBACK")
        return True
    finally:
        other.close()


@pytest.mark.parametrize("worker", [True, False], ids=["worker", "embedded"])
def test_a_workers_writes_leave_the_sqlite_file_free_for_the_other_workers(tmp_path, worker):
    """Workers on one machine share one SQLite file: a worker's store commits what it was handed at once, so
    another worker can write straight after (a batch would hold the file's write lock for up to a second, the
    other workers' crawls waiting meanwhile). The embedded crawl, alone on its file, keeps its batches."""
    from store_contract.store_builders import finding, listing

    from pipelines.store.pipeline import StorePipeline

    settings = _store_settings(worker)
    path = tmp_path / "netsword.db"
    pipe = StorePipeline(f"sqlite:///{path}", sqlite_batch_size=settings.getint("STORE_SQLITE_BATCH_SIZE"),
                         commit_each_batch=settings.getbool("STORE_COMMIT_EACH_BATCH"))
    pipe.open_spider()
    try:
        item = listing("lock-1", "高仿运动鞋", sweep="lock-1", shop_id="shop-1")
        item.findings = [finding(item)]
        pipe.process_item(item)
        assert _other_writer_starts_at_once(path) == worker
    finally:
        pipe.store.close()


def test_a_workers_store_writer_thread_commits_before_the_item_goes_on(tmp_path):
    """A worker's store writes run on a thread (STORE_WRITER=thread): once an item has left the store stage its
    writes are committed -- its page's lease may go back -- and the file is free for the other workers."""
    from store_contract.store_builders import finding, listing

    from pipelines.store.pipeline import OffReactorStorePipeline

    settings = _store_settings(True)
    assert settings.get("STORE_WRITER") == "thread"
    path = tmp_path / "netsword.db"

    async def main() -> bool:
        stage = OffReactorStorePipeline(f"sqlite:///{path}", writer=settings.get("STORE_WRITER"),
                                        sqlite_batch_size=settings.getint("STORE_SQLITE_BATCH_SIZE"),
                                        commit_each_batch=settings.getbool("STORE_COMMIT_EACH_BATCH"))
        stage.open_spider()
        try:
            item = listing("lock-1", "高仿运动鞋", sweep="lock-1", shop_id="shop-1")
            item.findings = [finding(item)]
            await stage.process_item(item)
            return _other_writer_starts_at_once(path)
        finally:
            await stage.close_spider()

    assert asyncio.run(main())
