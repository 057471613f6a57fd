"""Deterministic generator of the bazaar (仿真集市): ``catalog.json`` + ``ground_truth.json``.

Run ``python -m crawler.bazaar.generate`` after changing a content module; both outputs are committed and
the same seed gives byte-identical files. The licence numbers come from the demo's generator (valid USCC
check characters, or one broken on purpose); the guard is the demo's lint (a benign subject may hold no
violating phrase but its lawful look-alikes) plus the bazaar's own consistency checks.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

from crawler.bazaar.content_listings import (
    ARCHETYPES,
    CATEGORIES,
    NEAR_MISSES,
    PRICE,
    PROMOS,
    PROVINCES,
    SERVICES,
    VIOLATIONS,
)
from crawler.bazaar.content_shops import AREAS, DISCLOSE, SHOPS, STREETS
from crawler.demo import lint
from crawler.demo.generate import break_uscc, make_food_license, make_uscc, nice_price, write_outputs
from crawler.demo.generate import dump as dump  # the one JSON layout of the committed files (tests compare with it)
from crawler.items import CATEGORIES as FORM_CATEGORIES
from netsword.formats import format_price
from pipelines.match import uscc_is_valid

SEED = 20260315  # 3·15, consumer rights day
HERE = Path(__file__).resolve().parent
CATALOG_PATH = HERE / "catalog.json"
GROUND_TRUTH_PATH = HERE / "ground_truth.json"
PER_ARCHETYPE = 4  # ordinary listings per archetype
FOOD_LABELS = {"JY": "食品经营许可证", "SC": "食品生产许可证"}


class GenerationError(RuntimeError):
    pass


def build_shop(rng: random.Random, spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The shop record and its licence picture spec (None when the licence is shown as text or not at all)."""
    code, prefix = AREAS[spec["area"]]
    address = f"{prefix}{rng.choice(STREETS)}{rng.randint(1, 399)}号"
    individual = spec["operator"].endswith(("商行", "店"))
    mode = spec["lic"]
    lic: dict[str, Any] | None = None
    picture = None
    if mode != "none":
        uscc = make_uscc(rng, code, individual=individual)
        if mode.startswith("bad_"):
            uscc = break_uscc(rng, uscc, "bad_check")
        lic = {"company": spec["operator"], "uscc": uscc, "address": address,
               "shown_as": "image" if mode in ("image", "bad_image") else "text"}
        if spec.get("food"):
            lic["food_license_label"] = FOOD_LABELS[spec["food"]]
            lic["food_license"] = make_food_license(rng, spec["food"], code)
        if lic["shown_as"] == "image":
            lic["picture"] = f"lic-{spec['id']}"
            picture = {"kind": "license", "uscc": uscc, "name": spec["operator"], "address": address, "blur": 0}
    phone = f"{rng.choice(['400', '0731', '020', '0571'])}-{rng.randint(1000000, 9999999)}"
    shop = {"id": spec["id"], "name": spec["name"], "category": spec["cat"], "operator": spec["operator"],
            "intro": spec["intro"], "policy": spec["policy"], "notice": spec["notice"], "phone": phone,
            "license": lic}
    return shop, picture


def ordinary(rng: random.Random, cat: str, arche: dict[str, Any], used: set[str]) -> dict[str, Any]:
    for _ in range(40):
        title = f"{rng.choice(arche['brands'])} {arche['name']} {rng.choice(arche['specs'])}"
        if title not in used:
            break
    else:
        title = f"{title} {len(used)}"
    used.add(title)
    price = nice_price(rng, rng.uniform(*arche["price"]))
    orig = max(nice_price(rng, price * rng.uniform(1.2, 1.8)), round(price + 1, 2)) if rng.random() < 0.4 else None
    k = rng.randint(min(2, len(arche["desc"])), len(arche["desc"]))
    desc = "".join(arche["desc"][i] for i in sorted(rng.sample(range(len(arche["desc"])), k)))
    return {"title": title, "price": price, "original_price": orig, "description": desc,
            "promo": rng.choice(PROMOS) if rng.random() < 0.3 else None, "service": rng.choice(SERVICES),
            "attributes": {"品牌": title.split(" ")[0], "产地": rng.choice(PROVINCES)}}


def from_spec(rng: random.Random, spec: dict[str, Any]) -> dict[str, Any]:
    return {"title": spec["title"], "price": float(spec["price"]), "original_price": spec.get("orig"),
            "description": spec["desc"], "promo": spec.get("promo"),
            "service": spec.get("service") or rng.choice(SERVICES),
            "attributes": {"产地": rng.choice(PROVINCES), **(spec.get("attrs") or {})}}


def build(seed: int = SEED) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = random.Random(seed)
    shops, pictures = [], {}
    for spec in SHOPS:
        shop, picture = build_shop(rng, spec)
        shops.append(shop)
        if picture is not None:
            pictures[shop["license"]["picture"]] = picture
    by_cat: dict[str, list[str]] = {}
    for spec in SHOPS:
        by_cat.setdefault(spec["cat"], []).append(spec["id"])

    drafts: list[tuple[dict[str, Any], str, dict[str, Any]]] = []  # (listing fields, shop id, spec)
    used: set[str] = set()
    for slug, _label in CATEGORIES:
        n = 0
        for arche in ARCHETYPES[slug]:
            for _ in range(PER_ARCHETYPE):
                shop_ids = by_cat[slug]
                drafts.append((dict(ordinary(rng, slug, arche, used), category=slug), shop_ids[n % len(shop_ids)], {}))
                n += 1
    for spec in VIOLATIONS + NEAR_MISSES:
        drafts.append((dict(from_spec(rng, spec), category=spec["cat"]), spec["shop"], spec))
    rng.shuffle(drafts)

    listings, violations, lookalikes = [], [], []
    allows: dict[tuple[str, str], list[str]] = {}
    for i, (fields, shop_id, spec) in enumerate(drafts, 1):
        lid = str(10000 + i)
        listings.append({"id": lid, "shop_id": shop_id, **fields, "sold": int(rng.paretovariate(1.3) * 15) % 9000})
        allows[("listing", lid)] = spec.get("allow", [])
        if "cats" in spec:
            violations.append({"kind": "listing", "id": lid, "categories": spec["cats"], "rules": spec["rules"],
                               "evidence": spec["ev"], "why": spec["why"]})
        elif "look" in spec:
            lookalikes.append({"kind": "listing", "id": lid, "lookalike": spec["look"], "allow": spec.get("allow", [])})
    for spec, shop in zip(SHOPS, shops, strict=True):
        allows[("shop", shop["id"])] = spec.get("allow", [])
        if spec.get("viol"):
            cats, rules, ev, why = spec["viol"]
            v = {"kind": "shop", "id": shop["id"], "categories": cats, "rules": rules,
                 "evidence": shop["license"]["uscc"] if ev == "@uscc" else ev, "why": why}
            if spec["lic"] == "bad_image":
                v["in_picture"] = True
            violations.append(v)
    order = {"shop": 0, "listing": 1}
    violations.sort(key=lambda v: (order[v["kind"]], v["id"]))
    lookalikes.sort(key=lambda v: (order[v["kind"]], v["id"]))
    catalog = {"version": 1, "seed": seed, "site": "仿真集市", "categories": [{"slug": s, "label": lab}
                                                                          for s, lab in CATEGORIES],
               "shops": shops, "listings": listings, "pictures": pictures}
    truth = {"version": 1, "counts": {"shops": len(shops), "listings": len(listings)},
             "violations": violations, "lookalikes": lookalikes}
    check(catalog, truth, allows)
    return catalog, truth


def listing_text(x: dict[str, Any]) -> str:
    return "\n".join([x["title"], x["description"], x.get("promo") or "", x["service"],
                      *(f"{k} {v}" for k, v in x["attributes"].items())])


def shop_text(s: dict[str, Any]) -> str:
    lic = s.get("license") or {}
    return "\n".join([s["name"], s["intro"], s["policy"], s["notice"], lic.get("company", ""),
                      lic.get("uscc", ""), lic.get("food_license", "")])


def check(catalog: dict[str, Any], truth: dict[str, Any], allows: dict[tuple[str, str], list[str]]) -> None:
    """The ground truth agrees with the content: evidence is on the page, benign subjects hold no violating
    phrase (the demo's markers), prices and licences are what their labels say."""
    errors: list[str] = []
    labelled = {(v["kind"], v["id"]): v for v in truth["violations"]}
    for v in truth["violations"]:
        if bad := [c for c in v["categories"] if c not in FORM_CATEGORIES]:
            errors.append(f"{v['id']}: unknown categories {bad}")
    subjects = [("listing", x, listing_text(x)) for x in catalog["listings"]]
    subjects += [("shop", s, shop_text(s)) for s in catalog["shops"]]
    for kind, subj, text in subjects:
        key = (kind, subj["id"])
        found = lint.find_markers(text, allows.get(key, []))
        v = labelled.get(key)
        if v is None:
            if found:
                errors.append(f"benign {kind} {subj['id']} contains {found}")
            continue
        for piece in v["evidence"].split("；"):
            if not piece.startswith(("未展示", "¥")) and piece not in text:
                errors.append(f"{kind} {subj['id']}: evidence {piece!r} not in its text")
    for x in catalog["listings"]:
        v = labelled.get(("listing", x["id"]))
        ratio = (x["original_price"] or 0) / x["price"]
        lawful = any(w in (x["promo"] or "") + x["title"] for w in ("厂商建议零售价", "临期"))
        if v is not None and PRICE in v["categories"] and v["evidence"].startswith("¥"):
            if not (ratio >= 5 and v["evidence"] == format_price(x["original_price"])):
                errors.append(f"price violation {x['id']} inconsistent (ratio {ratio:.1f})")
        elif ratio >= 5 and not lawful:
            errors.append(f"{x['id']} has an unlabelled struck price {ratio:.1f}x")
    for s in catalog["shops"]:
        cats = (labelled.get(("shop", s["id"])) or {}).get("categories", [])
        lic = s["license"]
        if (lic is None or not uscc_is_valid(lic["uscc"])) != (DISCLOSE in cats):
            errors.append(f"shop {s['id']}: licence state and label disagree")
    if errors:
        raise GenerationError("bazaar content failed its checks:\n  " + "\n  ".join(errors))


def main(argv: list[str] | None = None) -> int:
    catalog, truth = build()
    write_outputs(catalog, truth, (CATALOG_PATH, GROUND_TRUTH_PATH))
    print(f"wrote {CATALOG_PATH.name}: {len(catalog['shops'])} shops, {len(catalog['listings'])} listings; "
          f"{GROUND_TRUTH_PATH.name}: {len(truth['violations'])} violating subjects, "
          f"{len(truth['lookalikes'])} near-misses")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
