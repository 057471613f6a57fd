"""Generic product fields from any product page: structured data first, then common markup.

For real sites without a hand-written profile (and for ``generic: true`` listing pages, where
it fills what the profile's selectors miss). Sources, in order of trust:

1. JSON-LD (``<script type="application/ld+json">``): a ``Product`` with ``offers`` (``Offer``,
   ``AggregateOffer``, ``priceSpecification``);
2. microdata (``itemprop="price"`` with ``content`` or text, inside an ``Offer`` / ``Product``);
3. meta tags (``product:price:amount``, ``og:price:amount``, ``itemprop=price``);
4. the price elements of big marketplaces and common price class names.

Each source proposes a price *text* (what the page shows or declares, with its currency when
known); :func:`pipelines.normalize.parse_price` turns it into a number like every other price.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from parsel import Selector

#: Price elements of big marketplaces and common shop systems, most specific first.
PRICE_SELECTORS: tuple[str, ...] = (
    "#corePrice_feature_div .a-offscreen", "#corePriceDisplay_desktop_feature_div .a-offscreen",
    "#priceblock_dealprice", "#priceblock_ourprice", "#priceblock_saleprice", "#price_inside_buybox",
    "#newBuyBoxPrice", "#kindle-price", "#price", "span.a-price span.a-offscreen",
    "#prcIsum", "#mm-saleDscPrc", ".x-price-primary span", ".x-bin-price__content span", ".a-color-price",
    "[class*=pricenew]", "[class*=price-new]", "[class*=new-price]", "[class*=sale-price]", "[class*=special-price]",
    "[data-testid=price]", "[data-test=product-price]", "[data-qa=price]", "[data-price]", "[price]",
    ".product-price .price", ".product__price", ".product-price", ".price-current", ".current-price",
    ".price--current", ".price__current", ".our-price", ".price-now", ".price .amount", ".price",
)
#: Struck-through ("original", 划线价) price elements, most specific first; a text found here counts only
#: if it parses to more than the page's price (and at most 100 times it): ``<s>`` is not always a price.
ORIGINAL_PRICE_SELECTORS: tuple[str, ...] = (
    ".a-text-price[data-a-strike] .a-offscreen", "[class*=original-price]", "[class*=originalPrice]",
    "[class*=original_price]", "[class*=origin-price]", "[class*=originPrice]", "[class*=old-price]",
    "[class*=oldPrice]", "[class*=old_price]", "[class*=price-old]", "[class*=price--old]", "[class*=price_old]",
    "[class*=was-price]", "[class*=wasPrice]", "[class*=regular-price]", "[class*=compare-at]",
    "[class*=market-price]", "[class*=marketPrice]", "[class*=line-through]", "del", "s", "strike",
    "[class*=strike]",
)
#: "原价：¥999" and its kin; the label is kept in the text ("建议零售价" is a lawful reference for the rules)
_ORIGINAL_LABELLED = re.compile(
    r"((?:原价|原價|划线价|劃線價|市场价|市場價|吊牌价|吊牌價|专柜价|專櫃價|门市价|門市價|建议零售价|建議零售價|"
    r"建议售价|建議售價|定价|定價)\s*[:：]?\s*(?:NT\$|US\$|RMB|CNY|[¥￥$€£])?\s*\d[\d.,]*(?:\s*元)?)")
#: schema.org price types that are not what the buyer pays now
_REFERENCE_PRICE_TYPES = ("strikethroughprice", "listprice", "msrp", "srp")
#: Attributes that hold a price themselves.
_PRICE_ATTRS = {"[data-price]": "data-price", "[price]": "price"}
#: "price: 12.00" in many languages (the label before a price), for pages without markup to go by.
_LABELLED = re.compile(
    r"(?:价格|售价|價格|售價|直購價|直购价|特價|特价|优惠价|優惠價|促销价|促銷價|到手价|现价|現價|抢购价|"
    r"price|prix|preis|precio|precios|prezzo|preço|cena|цена)\s*[:：]?\s*((?:NT\$|US\$|RMB|CNY|[¥￥$€£])?\s*"
    r"\d[\d.,\s]*\d(?:\s*元)?|(?:NT\$|US\$|RMB|CNY|[¥￥$€£])?\s*\d(?:\s*元)?)",
    re.IGNORECASE)
_NUMBER = re.compile(r"\d")
_LD_TYPES = {"product", "productgroup", "offer", "aggregateoffer", "individualproduct", "vehicle", "book"}


@dataclass
class Product:
    title: str = ""
    price_text: str = ""
    currency: str = ""
    brand: str = ""
    sku: str = ""
    description: str = ""
    source: str = ""  # where the price came from: jsonld | microdata | meta | css
    candidates: list[tuple[str, str]] = field(default_factory=list)  # (source, price text) in order
    original_price_text: str = ""  # the struck-through price (划线价), when the page shows one
    original_source: str = ""  # structured | css | label
    #: schema.org's struck-through and list prices (priceType StrikethroughPrice, ListPrice), as texts
    reference_prices: list[str] = field(default_factory=list)

    def as_fields(self) -> dict[str, Any]:
        """ListingItem fields."""
        attrs = {k: v for k, v in (("品牌", self.brand), ("SKU", self.sku)) if v}
        return {"title": self.title, "price_text": self._with_currency(self.price_text),
                "original_price_text": self._with_currency(self.original_price_text),
                "description": self.description, "attributes": attrs}

    def _with_currency(self, price: str) -> str:
        if price and self.currency and not re.search(r"[^\d\s.,]", price):
            return f"{self.currency} {price}"
        return price


#: Where a page may carry schema.org data (extruct is not run on pages without any of these).
_STRUCTURED_HINTS = ("ld+json", "itemprop", "typeof")


def extract_product(html: str, url: str = "", heuristics: bool = True) -> Product:
    """The product a page shows; ``heuristics=False``: only what its schema.org data (JSON-LD, microdata,
    RDFa) declares -- the structured-data fallback of listing fields a profile has no selector for."""
    sel = Selector(text=html or "<html></html>") if heuristics else Selector(text="<html></html>")
    data = structured_data(html or "", url)
    product = Product()
    finders = [("jsonld", _schema_org("json-ld")), ("microdata", _schema_org("microdata")),
               ("rdfa", _schema_org("rdfa"))]
    if heuristics:
        finders += [("microdata", _microdata), ("meta", _meta), ("css", _css), ("label", _label)]
    for source, finder in finders:
        for text, currency in finder(sel, product, data):
            if text and _NUMBER.search(text):
                product.candidates.append((source, text))
                if not product.price_text:
                    product.price_text, product.currency, product.source = text.strip(), currency or "", source
        if product.price_text:
            break
    _original_price(sel, product, heuristics)
    if not heuristics:
        return product
    product.title = product.title or _first(sel, ("meta[property='og:title']::attr(content)", "h1 ::text",
                                                  "title::text"))
    product.description = product.description or _first(sel, ("meta[property='og:description']::attr(content)",
                                                              "meta[name=description]::attr(content)"))
    return product


def schema_org_fields(html: str, url: str = "") -> dict[str, Any]:
    """ListingItem fields from the page's schema.org Product (JSON-LD, microdata, RDFa; read by extruct)."""
    if not any(hint in html for hint in _STRUCTURED_HINTS):
        return {}
    return {k: v for k, v in extract_product(html, url, heuristics=False).as_fields().items() if v}


def _first(sel: Selector, queries: tuple[str, ...]) -> str:
    for q in queries:
        value = " ".join(t.strip() for t in sel.css(q).getall() if t.strip())
        if value:
            return " ".join(value.split())[:500]
    return ""


# --------------------------------------------------------------------------- structured data (extruct)

#: RDFa is read only where a page declares a schema.org Product or Offer with RDFa, and only in pages up to
#: ``_RDFA_MAX_CHARS`` (pyRdfa is by far the slowest of extruct's readers: seconds on a big page).
_RDFA_HINT = re.compile(r"""typeof\s*=\s*["'][^"']*\b(?:schema:)?(?:Product|Offer)\b""")
_RDFA_MAX_CHARS = 1_000_000
_SCHEMA = re.compile(r"^https?://schema\.org/")


def structured_data(html: str, url: str = "") -> dict[str, list[dict[str, Any]]]:
    """schema.org items of a page by syntax, read with extruct: ``json-ld`` (each script on its own, so one
    broken script loses only itself), ``microdata`` (uniform: ``{"@type", properties...}``) and ``rdfa``
    (turned into the same shape). A page extruct cannot parse gives nothing."""
    from extruct import extract
    from extruct.jsonld import JsonLdExtractor
    from extruct.utils import parse_html, parse_xmldom_html

    rdfa = len(html) <= _RDFA_MAX_CHARS and "typeof" in html and bool(_RDFA_HINT.search(html))
    out: dict[str, list[dict[str, Any]]] = {"json-ld": [], "microdata": [], "rdfa": []}
    try:
        tree = (parse_xmldom_html if rdfa else parse_html)(html, encoding="UTF-8")
    except Exception:  # not HTML at all
        return out
    reader = JsonLdExtractor()
    for node in tree.xpath("//script[@type='application/ld+json']"):
        try:
            out["json-ld"] += [d for d in reader.extract_items(node) if isinstance(d, dict)]
        except Exception:  # one broken script (extruct tried json, then jstyleson)
            continue
    syntaxes = ["microdata", *(["rdfa"] if rdfa else [])]
    found = extract(tree, base_url=url or None, syntaxes=syntaxes, uniform=True, errors="ignore")
    out["microdata"] = [d for d in found.get("microdata", []) if isinstance(d, dict)]
    out["rdfa"] = _rdfa_nodes(found.get("rdfa", []))
    return out


def _rdfa_nodes(items: list[Any]) -> list[dict[str, Any]]:
    """extruct's RDFa (expanded JSON-LD: ``{"@type": ["http://schema.org/Product"], "http://schema.org/name":
    [{"@value": ...}], "http://schema.org/offers": [{"@id": "_:b0"}]}``) as plain schema.org objects."""
    by_id = {i.get("@id"): i for i in items if isinstance(i, dict) and i.get("@id")}

    def plain(node: dict[str, Any], depth: int = 0) -> dict[str, Any]:
        out: dict[str, Any] = {"@type": [_SCHEMA.sub("", t) for t in node.get("@type", [])]}
        for key, values in node.items():
            if not _SCHEMA.match(key) or not isinstance(values, list):
                continue
            got = []
            for v in values:
                if isinstance(v, dict) and "@value" in v:
                    got.append(v["@value"])
                elif isinstance(v, dict) and v.get("@id") in by_id and depth < 4:
                    got.append(plain(by_id[v["@id"]], depth + 1))
            if got:
                out[_SCHEMA.sub("", key)] = got[0] if len(got) == 1 else got
        return out

    return [plain(i) for i in items if isinstance(i, dict) and any(_SCHEMA.match(str(t)) for t in i.get("@type", []))]


def _ld_objects(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every object of the items, nested graphs, main entities and lists included."""
    stack: list[Any] = list(nodes)
    while stack:
        node = stack.pop(0)
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            yield node
            for key in ("@graph", "mainEntity", "itemListElement", "hasVariant"):
                if key in node:
                    stack.append(node[key])


def _types(node: dict[str, Any]) -> set[str]:
    t = node.get("@type") or ""
    return {str(x).lower().rsplit("/", 1)[-1] for x in (t if isinstance(t, list) else [t])}


def _offer_prices(offers: Any, product: Product, currency: str = "") -> Iterator[tuple[str, str]]:
    for offer in offers if isinstance(offers, list) else [offers]:
        if not isinstance(offer, dict):
            continue
        cur = str(offer.get("priceCurrency") or currency or "")
        spec = offer.get("priceSpecification")
        now = []
        for s in spec if isinstance(spec, list) else [spec]:
            if isinstance(s, dict) and s.get("price") not in (None, ""):
                kind = str(s.get("priceType") or "").lower().rsplit("/", 1)[-1]
                # a struck-through or list price is the page's "original" price, never what is paid now
                if kind in _REFERENCE_PRICE_TYPES:
                    product.reference_prices.append(str(s["price"]))
                else:
                    now.append((str(s["price"]), str(s.get("priceCurrency") or cur)))
        for key in ("price", "lowPrice", "highPrice"):
            value = offer.get(key)
            if value not in (None, "", 0, "0"):
                yield str(value), cur
                break
        else:
            yield from now
            if "offers" in offer:
                yield from _offer_prices(offer["offers"], product, cur)


def _schema_org(syntax: str) -> Any:
    def finder(sel: Selector, product: Product, data: dict[str, list[dict[str, Any]]]) -> Iterator[tuple[str, str]]:
        yield from _products(_ld_objects(data.get(syntax, [])), product)
    return finder


def _products(nodes: Iterator[dict[str, Any]], product: Product) -> Iterator[tuple[str, str]]:
    for node in nodes:
        types = _types(node)
        if not types & _LD_TYPES:
            continue
        if "offer" in types or "aggregateoffer" in types:
            yield from _offer_prices(node, product)
            continue
        if not product.title and isinstance(node.get("name"), str):
            product.title = node["name"].strip()
        if not product.sku and node.get("sku"):
            product.sku = str(node["sku"])
        brand = node.get("brand")
        if not product.brand and brand:
            product.brand = str(brand.get("name", "") if isinstance(brand, dict) else brand)
        if not product.description and isinstance(node.get("description"), str):
            product.description = " ".join(node["description"].split())[:2000]
        if "offers" in node:
            yield from _offer_prices(node["offers"], product)


# --------------------------------------------------------------------------- the struck-through price


def _original_price(sel: Selector, product: Product, heuristics: bool) -> None:
    """``product.original_price_text``: schema.org's struck-through price, else (``heuristics``) a struck-through
    price element, else a labelled one ("原价：¥999"); each only if it is more than the price (at most 100x).
    Struck-through elements and labels count only when the page shows one such amount: a page with several
    (a grid of other products, "you may also like") does not say which one is this product's."""
    from pipelines.normalize import parse_price

    now = parse_price(product._with_currency(product.price_text))[0] if product.price_text else None
    if not now:
        return

    def more(texts: list[str]) -> list[tuple[str, float]]:
        got = [(t, parse_price(t)[0]) for t in texts]
        return [(t, was) for t, was in got if was is not None and now < was <= 100 * now]  # type: ignore[operator]

    found = more(product.reference_prices)
    if found:
        product.original_price_text, product.original_source = found[0][0], "structured"
        return
    if not heuristics:
        return
    struck = []
    for query in ORIGINAL_PRICE_SELECTORS:
        for node in sel.css(query):
            text = " ".join(t.strip() for t in node.css("::text").getall() if t.strip())
            cents = node.css("sup::text").get("").strip()
            if len(cents) == 2 and cents.isdigit():  # 136<sup>85</sup> Lei is 136.85
                text = text.replace(f" {cents}", f".{cents}", 1)
            if text and len(text) < 40 and _NUMBER.search(text):
                struck.append(text)
    body = " ".join(sel.xpath("//body//text()[not(ancestor::script or ancestor::style)]").getall())
    labelled = [" ".join(m.group(1).split()) for m in _ORIGINAL_LABELLED.finditer(body)]
    for source, texts in (("css", struck), ("label", labelled)):
        found = more(texts)
        if found and len({was for _t, was in found}) == 1:
            product.original_price_text, product.original_source = found[0][0], source
            return


# --------------------------------------------------------------------------- microdata, meta, CSS


def _microdata(sel: Selector, product: Product, data: Any = None) -> Iterator[tuple[str, str]]:
    """``itemprop=price`` anywhere (pages whose microdata has no ``Product`` / ``Offer`` item around it)."""
    currency = (sel.css("[itemprop=priceCurrency]::attr(content)").get()
                or sel.css("[itemprop=priceCurrency]::text").get() or "")
    for node in sel.css("[itemprop=price], [itemprop=lowPrice]"):
        value = node.attrib.get("content") or " ".join(node.css("::text").getall())
        yield " ".join(value.split()), currency.strip()
    if not product.title:
        product.title = _first(sel, ("[itemtype*=Product] [itemprop=name]::attr(content)",
                                     "[itemtype*=Product] [itemprop=name] ::text"))


def _meta(sel: Selector, product: Product, data: Any = None) -> Iterator[tuple[str, str]]:
    for prop in ("product:price:amount", "og:price:amount", "product:sale_price:amount", "og:price",
                 "product:price"):
        value = sel.css(f"meta[property='{prop}']::attr(content), meta[name='{prop}']::attr(content)").get()
        if value:
            cur_prop = prop.replace("amount", "currency")
            cur = sel.css(f"meta[property='{cur_prop}']::attr(content), meta[name='{cur_prop}']::attr(content)").get()
            yield value, cur or ""


def _css(sel: Selector, product: Product, data: Any = None) -> Iterator[tuple[str, str]]:
    for query in PRICE_SELECTORS:
        for node in sel.css(query)[:3]:
            value = node.attrib.get(_PRICE_ATTRS[query]) if query in _PRICE_ATTRS else None
            text = value or " ".join(t.strip() for t in node.css("::text").getall() if t.strip())
            if text and len(text) < 60:
                yield text, ""


def _label(sel: Selector, product: Product, data: Any = None) -> Iterator[tuple[str, str]]:
    texts = sel.css("meta[property='og:description']::attr(content), meta[name=description]::attr(content)").getall()
    texts.append(" ".join(sel.xpath("//body//text()[not(ancestor::script or ancestor::style)]").getall()))
    for text in texts:
        for m in _LABELLED.finditer(text):
            yield " ".join(m.group(1).split()), ""
