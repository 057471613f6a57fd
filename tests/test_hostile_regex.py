"""Issue 12, item 3: one hostile `regex:` must not freeze a sweep or make it deaf to signals.

Rule regexes run on RE2 (pipelines/match/regexes.py): the classic catastrophic-backtracking shapes
load and run in time linear in the text; what RE2 cannot run (lookarounds, backreferences ...) or
cannot run safely (empty matches, huge programs) is refused by `rules lint`, by every command that
loads rules and by a sweep, each time with file:line and a hint. The real `netsword` command runs in
subprocesses; their timeouts are guards against a hang, not speed checks.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import ROOT, run_cli

from crawler.items import ListingItem
from pipelines.match import RuleRegexError, RuleSet, lint_rules
from pipelines.normalize import NormalizePipeline
from pipelines.store import open_store

TESTS = Path(__file__).resolve().parent
#: a guard against a hang (the old engine never finished these), not a speed check
GUARD = 180
#: a listing field as long as a sweep keeps one (NETSWORD_MAX_FIELD_CHARS = 100,000)
LONG = 99_999

RULE = """\
  - id: {id}
    title: {title}
    category: 其他
    severity: low
    basis: 《电子商务法》第十三条
    applies_to: listing
    fields: [title, description]
    regex: ['{pattern}']
"""
#: classic ReDoS shapes: exponential for a backtracking engine on a long run without the final character
HOSTILE = {"hostile.nested": r"(a+)+$", "hostile.overlap": r"(x+x+)+y", "hostile.alternation": r"(a|aa)+$",
           "hostile.star-height": r"(.*a){12}b", "hostile.classes": r"([a-z]+)*="}


def write_pack(folder: Path, patterns: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rules = "".join(RULE.format(id=rid, title=f"正则 {rid}", pattern=p) for rid, p in patterns.items())
    (folder / "pack.yml").write_text(f'pack: hostile\nversion: "1"\nrules:\n{rules}', encoding="utf-8")
    return folder


def line_of(folder: Path, pattern: str) -> int:
    lines = (folder / "pack.yml").read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if f"'{pattern}'" in line)


@pytest.fixture()
def hostile_rules(tmp_path: Path) -> Path:
    return write_pack(tmp_path / "rules", HOSTILE)


# ------------------------------------------------------------------ the hostile shapes load and run linearly


def test_classic_redos_shapes_load_and_lint_without_errors(hostile_rules):
    rs = RuleSet.load(hostile_rules)
    assert sorted(r.id for r in rs.rules) == sorted(HOSTILE)
    assert [str(i) for i in lint_rules(hostile_rules) if i.severity in ("error", "high")] == []


def test_the_engine_gets_through_100kb_hostile_listings(hostile_rules, tmp_path):
    """`rules explain -` over listings whose title is a 100 KB run without the pattern's last character:
    a backtracking engine does not come back (2^100000 ways to split the run)."""
    listings = {"run-then-bang": "a" * LONG + "!", "run-to-the-end": "a" * LONG, "x-run": "x" * LONG,
                "x-run-then-y": "x" * LONG + "y", "letters-no-equals": "ab" * (LONG // 2),
                "a-run-then-b": "a" * LONG + "b"}
    stdin = json.dumps([{"listing_id": lid, "site": "t", "title": text, "description": text}
                        for lid, text in listings.items()])
    try:
        proc = run_cli("rules", "explain", "-", "--json", "--rules-dir", str(hostile_rules), home=tmp_path,
                       stdin=stdin, timeout=GUARD)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`netsword rules explain` did not get through 6 hostile 100 KB listings in {GUARD} s")
    assert proc.returncode == 0, proc.stderr[-2000:]
    fired = {(f["subject_id"].split(":", 1)[1], f["rule_id"]) for f in json.loads(proc.stdout)}
    assert fired == {("run-to-the-end", "hostile.nested"), ("run-to-the-end", "hostile.alternation"),
                     ("x-run-then-y", "hostile.overlap"), ("a-run-then-b", "hostile.star-height"),
                     ("letters-no-equals", "hostile.star-height")}  # abab...: twelve a's and then a b
    found = next(f for f in json.loads(proc.stdout) if f["subject_id"] == "t:x-run-then-y")
    assert found["matched"] == ["x" * LONG + "y"] and found["field"] == "title"


# ------------------------------------------------------------------ what RE2 cannot run (safely) is refused

REFUSED = {"lookahead.first": "第一(?!次|代)", "lookbehind.refund": "(?<!不)退款", "backref.digit": r"(\d)\1{5}",
           "possessive.run": "a++b", "empty.discount": "(优惠)*", "huge.window": ".{0,1000}x", "one.byte": r"高\C"}


def test_lint_refuses_what_re2_cannot_run_with_file_line_and_hint(tmp_path):
    folder = write_pack(tmp_path / "rules", REFUSED)
    errors = {i.rule_id: i for i in lint_rules(folder) if i.severity == "error"}
    assert set(errors) == set(REFUSED)
    for rid, pattern in REFUSED.items():
        issue = errors[rid]
        assert issue.code == "rule-regex" and pattern in issue.message
        assert issue.location is not None and Path(issue.location.path).name == "pack.yml"
        assert issue.location.line == line_of(folder, pattern), rid
        assert issue.hint, rid
    look = errors["lookahead.first"]
    assert "前后查看" in look.message and "lookahead" in look.message
    assert "unless: {terms: [第一次, 第一代]}" in look.hint  # what to write instead
    assert "反向引用" in errors["backref.digit"].message and "backreference" in errors["backref.digit"].message
    assert "空文本" in errors["empty.discount"].message and "empty text" in errors["empty.discount"].message
    assert "太大" in errors["huge.window"].message and ".{0,200}" in errors["huge.window"].hint


def test_the_lint_command_fails_on_them_and_every_loading_command_refuses_them(tmp_path):
    folder = write_pack(tmp_path / "rules", {"lookahead.first": "第一(?!次|代)", "ok.price": r"原价\d{4,}"})
    line = line_of(folder, "第一(?!次|代)")
    lint = run_cli("rules", "lint", str(folder), home=tmp_path, timeout=GUARD)
    assert lint.returncode == 1
    assert f"pack.yml:{line}:" in lint.stdout and "error rule-regex: [lookahead.first]" in lint.stdout
    for args in (("rules", "explain", "第一名"), ("rules", "test"), ("rescan", "--dry-run")):
        proc = run_cli(*args, "--rules-dir", str(folder), home=tmp_path, timeout=GUARD)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "规则包加载失败" in proc.stderr and f"pack.yml:{line}:" in proc.stderr
        assert "RE2" in proc.stderr and "Traceback" not in proc.stderr
    with pytest.raises(RuleRegexError) as err:
        RuleSet.load(folder)
    assert err.value.location is not None and err.value.location.line == line


def test_the_old_lookahead_is_written_with_unless(tmp_path):
    """What the hint says to write instead of 第一(?!次|代) catches the same listings, as a term or a regex."""
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "pack.yml").write_text(textwrap.dedent("""\
        pack: p
        version: "1"
        rules:
          - id: ad.first
            title: 第一
            category: 虚假违法互联网广告
            severity: low
            basis: 《广告法》第九条
            applies_to: listing
            any: [第一]
            unless: {terms: [第一次, 第一代]}
          - id: ad.first-regex
            title: 第一
            category: 虚假违法互联网广告
            severity: low
            basis: 《广告法》第九条
            applies_to: listing
            regex: ['第一\\p{Han}?']
            unless: {terms: [第一次, 第一代]}
        """), encoding="utf-8")
    rs = RuleSet.load(folder)
    texts = ("销量全国第一", "第一次购买", "第一代产品", "第一品牌")
    fires = {text: sorted(f.rule_id for f in rs.explain(text)) for text in texts}
    assert fires == {"销量全国第一": ["ad.first", "ad.first-regex"], "第一次购买": [], "第一代产品": [],
                     "第一品牌": ["ad.first", "ad.first-regex"]}
    found = next(f for f in rs.explain("Nike 第一次降价！全网第一品牌") if f.rule_id == "ad.first-regex")
    assert found.matched == ["第一品"] and found.snippet == "nike 第一次降价!全网【第一品】牌"  # offsets in characters


# ------------------------------------------------------------------ sweeps: refused in one message; signals work


class _Handler(BaseHTTPRequestHandler):
    server: _Shop

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        if self.path == "/":
            links = "".join(f'<a class="go" href="{p}">{p}</a>' for p in ("/item/hostile.html", "/item/slow.html"))
            return self._send(f"<html><body>{links}</body></html>")
        if self.path == "/item/hostile.html":
            return self._send(_listing("a" * LONG + "!"))
        if self.path == "/item/slow.html":  # keeps the sweep busy until the test lets it go
            self.server.release.wait(GUARD)
            return self._send(_listing("普通水杯"))
        self.send_error(404)

    def _send(self, html: str) -> None:
        body = html.encode("utf-8")
        with contextlib.suppress(OSError):  # the sweep went away
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


def _listing(title: str) -> str:
    return (f'<html><body><h1 class="title">{title}</h1><span class="price">¥9.90</span>'
            f'<div class="desc">{title}</div></body></html>')


class _Shop(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.paths: list[str] = []
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


PROFILE = """\
site: regexshop
name: 正则测试店
base_url: http://127.0.0.1:1
start_urls: ['{base_url}/']
allowed_domains: [127.0.0.1]
politeness: {obey_robots: false, concurrency: 4, delay: 0, autothrottle: false, timeout: 170, retries: 0}
pages:
  home:
    type: page
    match: ['^/$']
    follow: ['a.go']
  listing:
    type: listing
    match: ['^/item/']
    fields:
      title: 'h1.title'
      price_text: 'span.price'
      description: 'div.desc'
"""


@pytest.fixture()
def shop(tmp_path: Path) -> Iterator[_Shop]:
    server = _Shop()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


def _sweep_env(tmp_path: Path, rules: Path) -> dict[str, str]:
    sites = tmp_path / "sites"
    sites.mkdir(exist_ok=True)
    (sites / "regexshop.yml").write_text(PROFILE, encoding="utf-8")
    env = {**os.environ, "NETSWORD_HOME": str(tmp_path / "home"), "NETSWORD_SITES_DIR": str(sites),
           "NETSWORD_RULES_DIR": str(rules), "SCRAPY_SETTINGS_MODULE": "quick_crawl_settings",
           "PYTHONPATH": os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)}
    env.pop("NETSWORD_STORE", None)
    return env


def _as_in_a_terminal() -> None:
    """Ctrl-C as a terminal delivers it: a suite started in the background (`cmd &` in a script) passes
    SIGINT on as ignored, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_sweep(tmp_path: Path, rules: Path, shop: _Shop) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli", "crawl", "--site", "regexshop", "--base-url", shop.url],
                            cwd=ROOT, env=_sweep_env(tmp_path, rules), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=_as_in_a_terminal)


def _finish(proc: subprocess.Popen, timeout: float) -> tuple[str, str] | None:
    """stdout and stderr of ``proc`` once it ends, or None (then it is killed) if it is still running."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None


def test_a_sweep_refuses_a_pack_re2_cannot_run_in_one_clear_message(tmp_path, shop):
    """`netsword crawl` loads the rule packs before it makes a job: the refusal is its one error."""
    rules = write_pack(tmp_path / "rules", {"lookahead.first": "第一(?!次|代)"})
    proc = _start_sweep(tmp_path, rules, shop)
    out = _finish(proc, GUARD)
    assert out is not None, f"the sweep did not end in {GUARD} s"
    stderr = out[1]
    assert proc.returncode == 1
    problem = [line for line in stderr.splitlines() if "pack.yml:" in line]
    assert len(problem) == 1 and f"pack.yml:{line_of(rules, '第一(?!次|代)')}:" in problem[0]
    assert problem[0].startswith("Error: ") and "前后查看" in problem[0] and "lookahead" in problem[0]
    assert "提示/hint:" in stderr and "unless" in stderr and "Traceback" not in stderr
    assert shop.paths == []  # nothing fetched


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_a_sweep_that_is_matching_a_hostile_listing(tmp_path, shop, hostile_rules, sig):
    """The old engine held Scrapy's reactor in `(a+)+$` for as long as it liked: SIGINT and SIGTERM only
    scheduled a stop on that reactor, so the sweep never stopped. Now the listing is matched at once and
    the signal ends the sweep (stopped early, exit code 1). A second page, held back by the shop until
    the signal is sent, keeps the sweep running until then (a graceful stop waits for pages in flight)."""
    proc = _start_sweep(tmp_path, hostile_rules, shop)
    deadline = time.monotonic() + GUARD
    while not {"/item/hostile.html", "/item/slow.html"} <= set(shop.paths) and proc.poll() is None:
        assert time.monotonic() < deadline, "the sweep did not fetch both listings"
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    time.sleep(1)  # the hostile listing is in the pipeline (the old engine: stuck in it)
    proc.send_signal(sig)
    shop.release.set()
    out = _finish(proc, GUARD)
    assert out is not None, f"the sweep ignored {sig.name} for {GUARD} s"
    stderr = out[1]
    assert proc.returncode == 1, stderr[-2000:]
    assert "sweep stopped early (shutdown)" in stderr
    db = sqlite3.connect(tmp_path / "home" / "netsword.db")
    try:
        titles = [len(t) for (t,) in db.execute("select title from listings")]
    finally:
        db.close()
    assert LONG + 1 in titles  # the hostile listing went through the whole pipeline into the store


# ------------------------------------------------------------------ rescan: Ctrl-C during a long run


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: slow but linear: the largest kind of program the loader lets through, on a text made to defeat
#: RE2's DFA (runs of 高 that never end in y) costs some tenths of a second per field
SLOW_BUT_LINEAR = {**HOSTILE, "hostile.window": r"(.{0,200}高)+y"}


def _hostile_store(home: Path, listings: int) -> None:
    """A store with ``listings`` hostile listings, saved as a sweep saves them (normalised)."""
    home.mkdir(parents=True, exist_ok=True)
    store = open_store(home / "netsword.db")
    store.start_sweep("s1", "t", "2026-01-01T00:00:00+00:00", {})
    norm = NormalizePipeline(tokens=False)
    for n in range(listings):
        item = ListingItem(site="t", listing_id=f"L{n}", url=f"http://127.0.0.1/item/{n}.html",
                           title=(("高" * 30 + "!") * 4000)[:LONG], description="a" * LONG + "!", sweep_id="s1",
                           fetched_at="2026-01-01T00:00:00+00:00", html_sha256=f"{n:064x}", status=200)
        norm.process_item(item)
        store.save(item)
    store.flush()
    store.close()


def test_sigint_stops_a_long_rescan_of_hostile_listings(tmp_path):
    """Ctrl-C in the middle of `netsword rescan` over stored hostile listings ends it (exit code 1).
    The signal is sent once the rescan has used more CPU than a rescan of an empty store, so it lands
    while listings are being matched."""
    rules = write_pack(tmp_path / "rules", SLOW_BUT_LINEAR)
    empty_home, home = tmp_path / "empty", tmp_path / "home"
    _hostile_store(empty_home, 0)
    before = os.times()
    assert run_cli("rescan", "--rules-dir", str(rules), home=empty_home, timeout=GUARD).returncode == 0
    after = os.times()
    start_cost = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    _hostile_store(home, 20)
    env = {**os.environ, "NETSWORD_HOME": str(home)}
    env.pop("NETSWORD_STORE", None)
    proc = subprocess.Popen([sys.executable, "-m", "cli", "rescan", "--rules-dir", str(rules)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_as_in_a_terminal)
    deadline = time.monotonic() + GUARD
    while proc.poll() is None and _cpu_seconds(proc.pid) < start_cost + 0.5 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the rescan ended before the signal: store more listings"
    proc.send_signal(signal.SIGINT)
    out = _finish(proc, GUARD)
    assert out is not None, f"the rescan ignored SIGINT for {GUARD} s"
    assert proc.returncode == 1 and "Aborted" in out[1], out
