"""Consistency checks for generated demo content (used by ``generate.py`` and the tests).

``MARKERS`` maps statistics-form categories to phrases (plain strings or regexes) that signal
the category in the demo's own wording. Benign subjects must contain none of them (after
removing their lawful look-alike phrases); a violating subject may only contain markers of
the categories it is labelled with. This is a guard for the generator, not a rule pack.
"""

from __future__ import annotations

import re

#: Lawful phrases that contain a marker anywhere in the catalog.
GLOBAL_ALLOW: tuple[str, ...] = ("定金不退（定金罚则已在下单页明示）",)

MARKERS: dict[str, tuple[str, ...]] = {
    "网络销售假冒伪劣商品": ("高仿", "A货", "超A", r"re:1:1(?![.\d])", "复刻", "精仿", "原单", "尾单", "纯原", "镜面版",
                           "logo一致", "懂的来"),
    "无证生产电子商务产品": ("无3C", "无CCC", "非国标", "解限速", "55码", "不上牌", "不用上牌", "改装锂电", "三无",
                             "无标无证", "装饰用"),
    "缺乏资质经营食品": ("家庭自制", "私房", "自家作坊", "自己灌装", "无需许可证", "无SC", "没有生产许可证"),
    "网络销售非法添加滥添加食品": ("西药", "西地那非", "他达拉非", "罂粟", "硼砂", "停药", "瘦10斤", "壮阳", "吊白块",
                                   "苏丹红"),
    "互联网不正当竞争": ("好评返", "返现", "返红包", "返5元", "好评送", "五星好评", "刷单", "补单"),
    "虚假违法互联网广告": ("全网第一", "国家级", "最佳", "最好", "顶级", "极品", "第一品牌", "NO.1", "唯一", "首选",
                          "独家", "领先", "治愈", "根治", "治疗", "降三高", "抗癌", "防癌", "药到病除", "100%有效",
                          "无效退款", "无副作用", "专家推荐", "医生推荐", "替代母乳", "比母乳",
                          r"re:第一(?!次|代|批|件|步|天|层)",
                          r"re:最(?!近|新款|大承重|高车速|后一件|低成交价|终)"),
    "侵害网络消费者合法权益": ("不支持七天", "不退不换", "概不退换", "拆封不退", "售出不退", "不退"),
    "侵害公民个人信息": ("客户资料", "宝妈", "车主名单", "业主名单", "精准粉", "车主数据", "客户资源"),
    "合同违法违规": ("解释权", "以本店解释为准", "单方取消"),
    "网络销售禁售限售物品": ("象牙", "穿山甲", "犀牛", "虎骨", "玳瑁", "电子烟", "烟弹", "小烟", "无需处方", "曲马多",
                             "地西泮"),
    "其他": ("可食用", "食品级"),
}

_COMPILED: list[tuple[str, str, re.Pattern[str]]] = [
    (cat, m, re.compile(m[3:] if m.startswith("re:") else re.escape(m), re.IGNORECASE))
    for cat, ms in MARKERS.items() for m in ms
]


def find_markers(text: str, allow: list[str] | tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(category, matched text) for every marker found after removing allowed phrases."""
    for phrase in (*allow, *GLOBAL_ALLOW):
        text = text.replace(phrase, "\u3000")
    return [(cat, m.group(0)) for cat, _, rx in _COMPILED for m in rx.finditer(text)]


def listing_text(listing: dict, pictures: dict | None = None) -> str:
    """The listing's text, and the text painted into its pictures (``pictures``: the catalog's specs)."""
    from crawler.demo.pictures import picture_text

    parts = [listing["title"], listing["description"], listing.get("promo") or "", listing["service"]]
    parts += [f"{k} {v}" for k, v in listing.get("attributes", {}).items()]
    for ids in (listing.get("images") or {}).values():
        parts += [picture_text(pictures[i], pictures) for i in ids if pictures and i in pictures]
    return "\n".join(parts)


def shop_text(shop: dict) -> str:
    parts = [shop["name"], shop["intro"], shop["policy"], shop["notice"]]
    lic = shop.get("license") or {}
    parts += [str(v) for k, v in lic.items() if isinstance(v, str)]
    parts += list(lic.get("other") or [])
    return "\n".join(parts)
