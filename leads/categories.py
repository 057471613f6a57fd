"""A lead's main category: the one row of the statistics form its case is counted under.

The form (情况统计表, 按主要违法行为问题分类) says: a case that breaks several rules is counted
once, under its most serious problem (按照涉及的最主要的违法问题进行分类，不重复计算). netsword
decides "most serious" in two steps, always the same way:

1. **Severity first.** The finding with the highest severity (critical > high > medium >
   low) wins: rule authors set severity per rule, knowing the harm of that exact hit.
2. **Then the category order below** breaks ties between findings of equal severity. It
   ranks by harm to health and safety, then by how likely the matter becomes a criminal
   case, then by how many consumers it misleads, and puts duties of disclosure and of
   platforms last:

   ==  ====================================  =================================================
   1   网络销售禁售限售物品                     prohibited goods (wildlife, weapons, drugs ...)
   2   网络销售非法添加滥添加食品                 adulterated food: direct harm to health
   3   网络销售假冒伪劣商品                     counterfeit and substandard goods
   4   缺乏资质经营食品                         food sold without a food licence
   5   无证生产电子商务产品                     products made without a production licence
   6   侵害公民个人信息                         personal data (a criminal matter when large)
   7   虚假违法互联网广告                       false or illegal advertising (incl. health claims)
   8   不正当价格行为                           fake original prices, price fraud
   9   互联网不正当竞争                         unfair competition (fake sales, reviews)
   10  侵害网络消费者合法权益                   consumer rights (7-day returns ...)
   11  合同违法违规                             unfair standard terms
   12  电子商务经营者未履行市场主体公示义务       licence not displayed
   13  电子商务平台未履行平台义务                 platform duties
   14  其他                                    everything else
   ==  ====================================  =================================================

Dismissed findings (false alarms, see ``leads.triage``) never decide the main category.
``MAIN_CATEGORY_RULE`` is the one-line version shown in the console and on the form.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crawler.items import CATEGORIES
from pipelines.store.base import SEVERITY_RANK

#: Most serious first (see the module docstring for why).
CATEGORY_PRECEDENCE: tuple[str, ...] = (
    "网络销售禁售限售物品",
    "网络销售非法添加滥添加食品",
    "网络销售假冒伪劣商品",
    "缺乏资质经营食品",
    "无证生产电子商务产品",
    "侵害公民个人信息",
    "虚假违法互联网广告",
    "不正当价格行为",
    "互联网不正当竞争",
    "侵害网络消费者合法权益",
    "合同违法违规",
    "电子商务经营者未履行市场主体公示义务",
    "电子商务平台未履行平台义务",
    "其他",
)
assert sorted(CATEGORY_PRECEDENCE) == sorted(CATEGORIES), "every form row needs a place in the order"

MAIN_CATEGORY_RULE = "主要违法类别：先按严重程度（严重>高>中>低），同等严重程度再按类别先后顺序；已排除的问题不计入。"

#: Finding statuses that do not count towards a case.
NOT_COUNTED: frozenset[str] = frozenset({"dismissed"})

_PLACE = {c: i for i, c in enumerate(CATEGORY_PRECEDENCE)}


def seriousness(category: str, severity: str) -> tuple[int, int]:
    """A sort key: larger is more serious."""
    return SEVERITY_RANK.get(severity, 0), len(CATEGORY_PRECEDENCE) - _PLACE.get(category, len(CATEGORY_PRECEDENCE))


def main_category(findings: Iterable[Mapping[str, Any]]) -> str | None:
    """The category a case with these findings (dicts with category, severity, status) is counted under;
    None when no finding counts."""
    best: tuple[tuple[int, int], str] | None = None
    for f in findings:
        if f.get("status") in NOT_COUNTED:
            continue
        key = seriousness(f["category"], f["severity"])
        if best is None or key > best[0]:
            best = key, f["category"]
    return best[1] if best else None
