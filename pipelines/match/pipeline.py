"""The Scrapy item pipeline of the match stage: the rule engine's findings onto each item."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.items import TEXT_FIELDS

from .engine import RuleSet


class MatchPipeline:
    """Scrapy item pipeline: appends the rule engine's findings to ``item.findings``.

    Settings: ``MATCH_RULES_DIR`` (default ``$NETSWORD_RULES_DIR`` or ``<repo>/rules``),
    ``MATCH_INCLUDE_TEST`` (also run ``status: test`` rules; default False).
    Stats: ``match/items``, ``match/findings``, ``match/hits/<category>``.
    """

    def __init__(self, rules_dir: Path | str | None = None, include_test: bool = False, stats: Any = None,
                 ruleset: RuleSet | None = None) -> None:
        self.rules_dir = rules_dir
        self.include_test = include_test
        self.stats = stats
        self.ruleset = ruleset

    @classmethod
    def from_crawler(cls, crawler: Any) -> MatchPipeline:
        s = crawler.settings
        return cls(rules_dir=s.get("MATCH_RULES_DIR") or None, include_test=s.getbool("MATCH_INCLUDE_TEST", False),
                   stats=crawler.stats, ruleset=s.get("MATCH_RULESET"))

    def open_spider(self, spider: Any = None) -> None:
        if self.ruleset is None:
            self.ruleset = RuleSet.load(self.rules_dir, include_test=self.include_test)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if getattr(item, "kind", None) not in TEXT_FIELDS or getattr(item, "part", ""):
            return item  # one page of a subject with sub-pages is matched when assembled (crawler.subpages)
        if self.ruleset is None:
            self.open_spider(spider)
        assert self.ruleset is not None
        stats = self.stats or getattr(getattr(spider, "crawler", None), "stats", None)
        have = {f.finding_id for f in item.findings}
        new = [f for f in self.ruleset.match(item) if f.finding_id not in have]
        item.findings.extend(new)
        if stats is not None:
            stats.inc_value("match/items")
            for f in new:
                stats.inc_value("match/findings")
                stats.inc_value(f"match/hits/{f.category}")
        return item
