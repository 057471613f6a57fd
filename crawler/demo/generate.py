"""Deterministic generator of the demo marketplace: ``catalog.json`` + ``ground_truth.json``.

Run ``python -m crawler.demo.generate`` (from the repo root) after changing any content module;
both outputs are committed. The same seed always gives byte-identical files. Generation fails
loudly if the lint in :mod:`crawler.demo.lint` finds a violating phrase in a benign subject,
an evidence string missing from its subject, or a price/licence inconsistency.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

from crawler.demo import lint
from crawler.demo.content_benign import (
    ARCHETYPES,
    GENERIC,
    NEUTRAL,
    POINTS,
    PROMOS,
    PROVINCES,
    SERVICES,
    SITE_CATEGORIES,
)
from crawler.demo.content_pictures import PHOTOS, PICTURE_LISTINGS, PICTURE_SHOPS
from crawler.demo.content_shops import AREAS, NOTICES, POLICIES, ROADS, SHOPS
from crawler.demo.content_tricky import TRICKY
from crawler.demo.content_violations import DISCLOSE, NOFOOD, PRICE, VIOLATIONS
from crawler.demo.templates import format_price
from crawler.items import CATEGORIES
from pipelines.match import USCC_CHARSET, org_code_check_char, uscc_check_char, uscc_is_valid

SEED = 20180915  # the 2018 网剑行动 started in September
HERE = Path(__file__).resolve().parent
CATALOG_PATH = HERE / "catalog.json"
GROUND_TRUTH_PATH = HERE / "ground_truth.json"
LISTINGS_PER_CATEGORY = {"kids": 46}  # others: DEFAULT_LISTINGS
DEFAULT_LISTINGS = 42
EXEMPTION = "依据《中华人民共和国电子商务法》第十条，本店销售自产农副产品，依法无需办理市场主体登记。"
FOOD_LABELS = {
    "SC": "食品生产许可证", "JY": "食品经营许可证", "bad": "食品经营许可证", "filing": "仅销售预包装食品备案",
}


class GenerationError(RuntimeError):
    pass


# ----------------------------------------------------------------------------- identifiers
def make_uscc(rng: random.Random, area_code: str, individual: bool = False) -> str:
    body = "MA" + "".join(rng.choice(USCC_CHARSET) for _ in range(6))
    code17 = ("92" if individual else "91") + area_code + body + org_code_check_char(body)
    return code17 + uscc_check_char(code17)


def break_uscc(rng: random.Random, code: str, how: str) -> str:
    if how == "bad_check":
        return code[:17] + rng.choice([c for c in USCC_CHARSET if c != code[17]])
    if how == "bad_len":
        return code[:9] + code[10:]  # one character dropped: 17 characters
    if how == "bad_chars":
        return code[:11] + "O" + code[12:]  # letter O is not in the USCC character set
    raise ValueError(how)


def make_food_license(rng: random.Random, kind: str, area_code: str) -> str:
    digits = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    if kind == "SC":
        return "SC1" + digits(2) + area_code + digits(5)
    if kind == "JY":
        return "JY1" + area_code + digits(7)
    if kind == "filing":
        return "YB1" + area_code + digits(7)
    raise ValueError(kind)


# ----------------------------------------------------------------------------- shops
def build_shop(rng: random.Random, spec: dict[str, Any]) -> dict[str, Any]:
    code, prefix, tel = AREAS[spec["area"]]
    address = f"{prefix}{rng.choice(ROADS)}{rng.randint(1, 999)}号"
    if spec["kind"] in ("company", "individual"):
        address += rng.choice(["", f"{rng.randint(1, 12)}幢{rng.randint(101, 1808)}室",
                               f"{rng.choice('ABCD')}座{rng.randint(2, 20)}楼"])
    phone = f"1{rng.choice('3589')}{rng.randint(0, 9)}{rng.randint(1000, 9999)}{rng.randint(1000, 9999)}" \
        if spec["kind"] in ("person", "farm") else f"{tel}-{rng.choice('68')}{rng.randint(1000000, 9999999)}"
    lic_mode = spec["lic"]
    license_: dict[str, Any] | None = None
    if lic_mode == "exempt":
        license_ = {"company": spec["operator"], "uscc": None, "exemption": EXEMPTION, "image": False}
    elif lic_mode != "none":
        uscc = make_uscc(rng, code, individual=spec["kind"] == "individual")
        if lic_mode != "valid":
            uscc = break_uscc(rng, uscc, lic_mode)
        license_ = {"company": spec["operator"], "uscc": uscc, "image": lic_mode == "valid" and rng.random() < 0.8}
    if license_ is not None:
        food = spec.get("food")
        if food:
            license_["food_license_label"] = FOOD_LABELS[food]
            license_["food_license"] = "JY3702030012" if food == "bad" else make_food_license(rng, food, code)
        if spec.get("other"):
            license_["other"] = list(spec["other"])
    return {
        "id": "", "name": spec["name"], "category": spec["cat"], "operator": spec["operator"], "kind": spec["kind"],
        "license": license_, "phone": phone, "address": address, "intro": spec["intro"],
        "policy": spec.get("policy") or rng.choice(POLICIES), "notice": spec.get("notice") or rng.choice(NOTICES),
        "opened": f"{rng.randint(2012, 2024)}-{rng.randint(1, 12):02d}",
    }


# ----------------------------------------------------------------------------- listings
def nice_price(rng: random.Random, x: float) -> float:
    base = max(int(x), 1)
    if base >= 200:
        base = base // 10 * 10 + rng.choice([9, 9, 8, 0])
    return round(base + (0.0 if base >= 200 else rng.choice([0.0, 0.9, 0.0, 0.5, 0.8])), 2)


def normal_listing(rng: random.Random, cat: str, arche: dict[str, Any], used: set[str]) -> dict[str, Any]:
    for _ in range(50):
        brand, spec = rng.choice(arche["brands"]), rng.choice(arche["specs"])
        title = f"{brand} {arche['name']} {spec}"
        if rng.random() < 0.5:
            title += " " + rng.choice(POINTS[cat])
        if title not in used:
            break
    used.add(title)
    price = nice_price(rng, rng.uniform(*arche["price"]))
    orig = None
    if rng.random() < 0.4:
        orig = max(nice_price(rng, price * rng.uniform(1.15, 1.9)), round(price + 1, 2))
    pool = arche["desc"]
    attrs = {"品牌": brand, "规格": spec, **arche["attrs"]}
    attrs.setdefault("产地", rng.choice(PROVINCES))
    extra = [f"规格：{spec}，产地：{attrs['产地']}。"] if rng.random() < 0.25 else []
    generic = [rng.choice(GENERIC[cat])] if cat == "health" or rng.random() < 0.7 else []
    room = 4 - len(extra) - len(generic)  # 2-4 sentences in all
    k = rng.randint(max(1, min(2 - len(extra) - len(generic), len(pool))), min(room, len(pool)))
    sentences = [pool[i] for i in sorted(rng.sample(range(len(pool)), k))] + extra + generic
    return {
        "title": title, "price": price, "original_price": orig, "description": "".join(sentences),
        "promo": rng.choice(PROMOS) if rng.random() < 0.35 else None, "service": rng.choice(SERVICES),
        "attributes": attrs,
    }


def spec_listing(rng: random.Random, spec: dict[str, Any]) -> dict[str, Any]:
    attrs = dict(spec.get("attrs") or {})
    attrs.setdefault("产地", rng.choice(PROVINCES))
    promo = spec.get("promo") or (rng.choice(PROMOS) if rng.random() < 0.25 else None)
    desc = spec["desc"]
    if sum(desc.count(p) for p in "。！？") < 2:
        desc += rng.choice(NEUTRAL)
    return {
        "title": spec["title"], "price": float(spec["price"]), "original_price": spec.get("orig"),
        "description": desc, "promo": promo, "service": spec.get("service") or rng.choice(SERVICES),
        "attributes": attrs,
    }


def _distribute(rng: random.Random, items: list[dict[str, Any]], shops: list[dict[str, Any]]) -> None:
    """Assign items to shops round-robin in a shuffled order (balanced counts)."""
    rng.shuffle(items)
    order = shops[:]
    rng.shuffle(order)
    for i, item in enumerate(items):
        item["_shop"] = order[i % len(order)]


def build(seed: int = SEED) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = random.Random(seed)
    shops = []
    for spec in SHOPS:
        shop = build_shop(rng, spec)
        shop["_spec"] = spec
        shops.append(shop)
    rng.shuffle(shops)
    for i, shop in enumerate(shops, 1):
        shop["id"] = f"S{i:03d}"

    listings: list[dict[str, Any]] = []
    used: set[str] = set()
    for slug, _label, _js in SITE_CATEGORIES:
        cat_shops = [s for s in shops if s["category"] == slug]
        general = [s for s in cat_shops if s["_spec"].get("take", "all") == "all"]
        normal_ok = [s for s in cat_shops if s["_spec"].get("take", "all") in ("all", "normal")]
        tricky = [dict(spec_listing(rng, t), _spec=t) for t in TRICKY if t["cat"] == slug]
        viols = [dict(spec_listing(rng, v), _spec=v) for v in VIOLATIONS if v["cat"] == slug]
        n_normal = LISTINGS_PER_CATEGORY.get(slug, DEFAULT_LISTINGS) - len(tricky) - len(viols)
        arches = ARCHETYPES[slug]
        normals = [normal_listing(rng, slug, arches[i % len(arches)], used) for i in range(n_normal)]
        pinned = [t for t in tricky if t["_spec"].get("shop")]
        for t in pinned:
            t["_shop"] = next(s for s in cat_shops if s["_spec"].get("tag") == t["_spec"]["shop"])
        _distribute(rng, [t for t in tricky if not t["_spec"].get("shop")] + viols, general)
        _distribute(rng, normals, normal_ok)
        for item in tricky + viols + normals:
            item["category"] = slug
            used.add(item["title"])
        listings += tricky + viols + normals
    rng.shuffle(listings)

    violations: list[dict[str, Any]] = []
    lookalikes: list[dict[str, Any]] = []
    allows: dict[tuple[str, str], list[str]] = {}
    out_listings = []
    for i, item in enumerate(listings, 1):
        lid = f"L{i:04d}"
        spec = item.pop("_spec", {})
        shop = item.pop("_shop")
        out_listings.append({"id": lid, "shop_id": shop["id"], "category": item["category"], "title": item["title"],
                             "price": item["price"], "original_price": item["original_price"],
                             "description": item["description"], "promo": item["promo"], "service": item["service"],
                             "attributes": item["attributes"], "sold": int(rng.paretovariate(1.2) * 20) % 20000})
        allows[("listing", lid)] = spec.get("allow", [])
        if "cats" in spec:
            violations.append({"kind": "listing", "id": lid, "categories": spec["cats"], "evidence": spec["ev"],
                               "why": spec["why"]})
        elif "look" in spec:
            lookalikes.append({"kind": "listing", "id": lid, "lookalike": spec["look"], "allow": spec.get("allow", [])})
    out_shops = []
    for shop in sorted(shops, key=lambda s: s["id"]):
        spec = shop.pop("_spec")
        out_shops.append(shop)
        allows[("shop", shop["id"])] = spec.get("allow", [])
        if spec.get("viol"):
            cats, ev, why = spec["viol"]
            if ev == "@uscc":
                ev = shop["license"]["uscc"]
            violations.append({"kind": "shop", "id": shop["id"], "categories": cats, "evidence": ev, "why": why})
        elif spec.get("look"):
            lookalikes.append({"kind": "shop", "id": shop["id"], "lookalike": spec["look"],
                               "allow": spec.get("allow", [])})
    pictures = add_pictures(random.Random(seed + 14), out_shops, out_listings, violations, lookalikes, allows)
    order = {"shop": 0, "listing": 1}
    violations.sort(key=lambda v: (order[v["kind"]], v["id"]))
    lookalikes.sort(key=lambda v: (order[v["kind"]], v["id"]))
    catalog = {
        "version": 1, "seed": seed, "site": "网剑演示商城", "updated": "2025-11-01T08:00:00Z",
        "categories": [{"slug": s, "label": lab, "js": js} for s, lab, js in SITE_CATEGORIES],
        "shops": out_shops, "listings": out_listings, "pictures": pictures,
    }
    truth = {"version": 1, "counts": {"shops": len(out_shops), "listings": len(out_listings)},
             "violations": violations, "lookalikes": lookalikes}
    check(catalog, truth, allows)
    return catalog, truth


# ----------------------------------------------------------------------------- pictures (issue 14)
def add_pictures(rng: random.Random, shops: list[dict[str, Any]], listings: list[dict[str, Any]],
                 violations: list[dict[str, Any]], lookalikes: list[dict[str, Any]],
                 allows: dict[tuple[str, str], list[str]]) -> dict[str, dict[str, Any]]:
    """Shops and listings whose evidence is in pictures (crawler/demo/content_pictures.py), appended after
    the others (their ids and content stay); returns the picture specs (id -> spec, drawn by pictures.py)."""
    pictures: dict[str, dict[str, Any]] = {}
    by_tag: dict[str, dict[str, Any]] = {}
    for spec in PICTURE_SHOPS:
        shop = build_shop(rng, {**spec, "lic": "valid"})
        shop["id"] = f"S{len(shops) + 1:03d}"
        lic = shop["license"]
        code = lic["uscc"]
        if spec["pic"] == "bad_check":
            code = break_uscc(rng, code, "bad_check")
        pid = f"lic-{shop['id']}"
        pictures[pid] = {"kind": "license", "uscc": code, "name": spec.get("other_name") or spec["operator"],
                         "address": shop["address"], "blur": 6 if spec["pic"] == "blurred" else 0}
        lic.update(uscc=code, image=False, image_only=True, picture=pid)
        shops.append(shop)
        by_tag[spec["tag"]] = shop
        allows[("shop", shop["id"])] = []
        if spec.get("viol"):
            cats, ev, why = spec["viol"]
            violations.append({"kind": "shop", "id": shop["id"], "categories": cats,
                               "evidence": code if ev == "@uscc" else ev, "why": why, "in_picture": True})
    for pid, spec in PHOTOS.items():
        pictures[f"photo-{pid}"] = spec
        pictures[f"photo-{pid}-copy"] = {"copy_of": f"photo-{pid}", "width": 600}
    for spec in PICTURE_LISTINGS:
        shop = by_tag[spec["shop"]]
        lid = f"L{len(listings) + 1:04d}"
        item = {"id": lid, "shop_id": shop["id"], "category": spec["cat"], "title": spec["title"],
                "price": float(spec["price"]), "original_price": None, "description": spec["desc"], "promo": None,
                "service": rng.choice(SERVICES), "attributes": {"产地": rng.choice(PROVINCES)},
                "sold": int(rng.paretovariate(1.2) * 20) % 20000, "images": {}}
        if spec.get("detail"):
            pid = f"detail-{lid}"
            pictures[pid] = {"kind": "detail", "title": spec["title"].split(" ")[0] + " 商品详情",
                             "lines": spec["detail"], "seed": len(pictures)}
            item["images"]["detail"] = [pid]
        if spec.get("photo"):
            item["images"]["main"] = [f"photo-{spec['photo']}" + ("-copy" if spec.get("copy") else "")]
        listings.append(item)
        allows[("listing", lid)] = []
        if "cats" in spec:
            violations.append({"kind": "listing", "id": lid, "categories": spec["cats"], "evidence": spec["ev"],
                               "why": spec["why"], "in_picture": True})
    return pictures


# ----------------------------------------------------------------------------- lint
def check(catalog: dict[str, Any], truth: dict[str, Any], allows: dict[tuple[str, str], list[str]]) -> None:
    errors: list[str] = []
    labelled = {(v["kind"], v["id"]): v for v in truth["violations"]}
    for v in truth["violations"]:
        bad = [c for c in v["categories"] if c not in CATEGORIES]
        if bad:
            errors.append(f"{v['id']}: unknown categories {bad}")
    pics = catalog.get("pictures") or {}
    subjects = [("listing", x, lint.listing_text(x, pics)) for x in catalog["listings"]]
    subjects += [("shop", x, lint.shop_text(x)) for x in catalog["shops"]]
    for kind, subj, text in subjects:
        key = (kind, subj["id"])
        found = lint.find_markers(text, allows.get(key, []))
        v = labelled.get(key)
        if v is None:
            if found:
                errors.append(f"benign {kind} {subj['id']} contains {found}")
            continue
        stray = [f for f in found if f[0] not in v["categories"]]
        if stray:
            errors.append(f"{kind} {subj['id']} labelled {v['categories']} also contains {stray}")
        for piece in v["evidence"].split("；"):
            if not piece.startswith("未展示") and piece not in text and not piece.startswith("¥"):
                errors.append(f"{kind} {subj['id']}: evidence {piece!r} not in text")
    for x in catalog["listings"]:
        v = labelled.get(("listing", x["id"]))
        is_price = v is not None and PRICE in v["categories"]
        ratio = (x["original_price"] or 0) / x["price"]
        msrp = "厂商建议零售价" in (x["promo"] or "")
        if is_price and not (ratio >= 8 and not msrp and v["evidence"] == format_price(x["original_price"])):
            errors.append(f"price violation {x['id']} inconsistent (ratio {ratio:.1f})")
        if not is_price and ratio >= 8 and not msrp:
            errors.append(f"{x['id']} has an unlabelled struck price {ratio:.1f}x")
    for s in catalog["shops"]:
        v = labelled.get(("shop", s["id"]))
        cats = v["categories"] if v else []
        lic = s["license"]
        picture = pics.get(lic.get("picture", "")) if lic else None
        if picture is not None and (picture.get("blur") or picture.get("name") != lic["company"]):
            if DISCLOSE not in cats:
                errors.append(f"shop {s['id']} shows an unreadable or another company's licence but is not labelled")
            continue
        if lic is None or (lic.get("uscc") and not uscc_is_valid(lic["uscc"])):
            if DISCLOSE not in cats:
                errors.append(f"shop {s['id']} has no valid licence but is not labelled")
        elif DISCLOSE in cats:
            errors.append(f"shop {s['id']} labelled {DISCLOSE} but shows a valid licence")
        sells_food = s["category"] in ("food", "health") and s["kind"] != "farm"
        has_food_licence = bool(lic and lic.get("food_license") and lic["food_license"] != "JY3702030012")
        if sells_food and not has_food_licence and NOFOOD not in cats:
            errors.append(f"food shop {s['id']} without a food licence is not labelled")
    kids = sum(1 for v in truth["violations"] if v["kind"] == "listing"
               and next(x for x in catalog["listings"] if x["id"] == v["id"])["category"] == "kids")
    if kids < 8:
        errors.append(f"only {kids} kids violations")
    if errors:
        raise GenerationError("demo content failed its lint:\n  " + "\n  ".join(errors))


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=1) + "\n"


def write_outputs(catalog: dict[str, Any], truth: dict[str, Any], paths: tuple[Path, Path]) -> None:
    """Write the catalog and the ground truth (in that order) to ``paths``, as the committed files are."""
    catalog_path, truth_path = paths
    catalog_path.write_text(dump(catalog), encoding="utf-8")
    truth_path.write_text(dump(truth), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    catalog, truth = build()
    write_outputs(catalog, truth, (CATALOG_PATH, GROUND_TRUTH_PATH))
    n_sub = truth["counts"]["shops"] + truth["counts"]["listings"]
    n_v = len(truth["violations"])
    print(f"wrote {CATALOG_PATH.name}: {truth['counts']['shops']} shops, {truth['counts']['listings']} listings; "
          f"{GROUND_TRUTH_PATH.name}: {n_v} violating subjects ({n_v / n_sub:.1%}), "
          f"{len(truth['lookalikes'])} look-alikes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
