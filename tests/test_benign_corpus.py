"""False-positive rate of the stable rules on ordinary listing texts (tests/corpus/).

* ``real_pages.txt``: titles, descriptions and product texts of 140+ real product pages (Amazon,
  eBay, IKEA, pcstore.com.tw, gomaji.com ...), extracted once into the repository by
  ``extract_real_pages.py`` (the pages themselves are not in the repository);
* ``tricky_benign.txt``: texts we wrote, full of lawful look-alikes (最近, 第一次, 国家级非遗,
  仿真花, 象牙白, 生鲜不支持七天无理由, 适用于iPhone, iPhone15, β-胡萝卜素 ...) and ordinary titles.

Each text fills a listing's title, description, promo and service (stricter than real pages,
where a text sits in one field). A few real-page lines make real absolute claims (Advertising
Law art. 9: "第一品牌", "台灣 NO.1"): they are counted as violations the rules must catch, not as
benign texts.
"""

from __future__ import annotations

from pathlib import Path

from crawler.items import ListingItem
from pipelines.match import RuleSet

CORPUS = Path(__file__).parent / "corpus"
#: real-page lines that are real violations (not benign): they must fire
KNOWN_CLAIMS = ("第一品牌", "NO.1 網路開店平台")
MAX_FP_RATE = 0.02


def load(name: str) -> list[tuple[str, str]]:
    """(site category, text) per line; '#' lines are comments, 'category<TAB>text' sets a category."""
    out = []
    for line in (CORPUS / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            category, _, text = line.rpartition("\t")
            out.append((category, text))
    return out


def run(rules: RuleSet, texts: list[tuple[str, str]]) -> list[tuple[str, list]]:
    out = []
    for i, (category, text) in enumerate(texts):
        item = ListingItem(site="corpus", listing_id=str(i), title=text, description=text, promo=text, service=text,
                           category=category)
        out.append((text, rules.match(item)))
    return out


def test_benign_corpus_false_positive_rate():
    rules = RuleSet.load()
    real = load("real_pages.txt")
    claims = [t for t in real if any(k in t[1] for k in KNOWN_CLAIMS)]
    benign = [t for t in real if t not in claims] + load("tricky_benign.txt")
    assert len(benign) >= 1000
    results = run(rules, benign)
    flagged = [(text, fs) for text, fs in results if fs]
    rate = len(flagged) / len(benign)
    print(f"\nbenign corpus: {len(benign)} texts, {len(flagged)} flagged, false-positive rate {rate:.2%}")
    for _, fs in flagged:
        print(f"  FP {', '.join(f.rule_id for f in fs)}: {fs[0].snippet[:70]}")
    assert rate < MAX_FP_RATE
    # the real claims among the real pages are caught
    caught = [fs for _, fs in run(rules, claims) if any(f.rule_id == "ad.absolute-terms" for f in fs)]
    assert len(caught) == len(claims) >= 2
