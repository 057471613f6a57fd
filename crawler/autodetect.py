"""Pages of a site nobody wrote a profile for: what each page is, and its fields, read from its markup.

The ``auto`` page type (``crawler/sites/generic.yml``) sends every page of a site here. A page is

* a **listing** when its schema.org data (JSON-LD, microdata, RDFa) or ``og:type`` declares one product (or
  several -- variants, related goods -- of which one is named as the page's heading); or when it has a
  heading (the only ``<h1>``, the one named a title, the one its ``<title>`` repeats, else ``og:title``), a
  price after it and a buy button (in the languages of the big marketplaces, or by its id) that is not one of
  a list's per-card buttons; or one ``<h1>`` and a price with few price elements and no product cards;
* a **shop** when it is not a listing and shows a licence block (营业执照, 统一社会信用代码 ...) or its
  URL path names a shop (``/shop/``, ``/store/``, ``shop_id=``) and it has an ``<h1>``; a shop page that
  links to its 资质/亮照 page gets the licence from there (the spider fetches it, :func:`licence_fields`);
* a plain **page** otherwise (kept as evidence, its links followed).

Fields come from structured data first, then from the class and id names most shop systems use
(``desc``, ``detail``, ``promo``, ``service``, ``notice``, ``breadcrumb`` ...). The result says why the page was
taken for what it is (``AutoPage.why``), so an analyst can tell a guess from a declaration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from parsel import Selector

from crawler.generic import extract_product, structured_data

#: text of an element, without scripts and styles
_TEXT = ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"
#: a price element: one per product card on a list page, one to three on a product page
_PRICE_ELEMENTS = "[class*=price], [class*=Price], [itemprop=price], [id*=price]"
#: more price elements than this and no buy button: a list of products, not one
_MAX_PRICES_ON_LISTING = 4
#: a buy button's words (Chinese and the languages of the big marketplaces), or its id or class
_BUY = re.compile(
    r"加入购物车|立即购买|马上抢|立即抢购|去购买|加购|加入購物車|立即購買|直接購買|"
    r"add to (?:cart|bag|basket|trolley)|buy (?:it )?now|aggiungi al carrello|compra ora|"
    r"in den (?:einkaufswagen|warenkorb)|jetzt kaufen|ajouter au panier|acheter maintenant|añadir al carrito|"
    r"comprar ahora|adicionar ao carrinho|"
    r"in winkelwagen|do koszyka|do košíka|do košíku|v košarico|u košaricu|kosárba|в корзину|купить|кошик|"
    r"カートに入れる|今すぐ買う|장바구니|구매하기|바로구매|sepete ekle|thêm vào giỏ", re.I)
_BUY_CONTROLS = ("[id*=add-to-cart], [id*=addToCart], [id*=add_to_cart], [class*=add-to-cart], [class*=addToCart], "
                 "[class*=add_to_cart], [id*=buy-now], [class*=buy-now], [id*=buyNow], [class*=buyNow], "
                 "[name*=add-to-cart], [data-action*=add-to-cart]")
_LICENCE = re.compile(r"营业执照|统一社会信用代码|注册号|经营者信息|主体信息|资质信息|店铺资质|亮照"
                      r"|business licen[cs]e", re.I)
_SHOP_PATH = re.compile(r"/(?:shop|shops|store|stores|seller|sellers|dianpu|mall)(?:/|\.|$)"
                        r"|[?&](?:shop|store|seller)_?id=", re.I)
_USCC = re.compile(r"(?<![0-9A-Z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Z])")
_LABELLED_CODE = re.compile(r"(?:统一社会信用代码|信用代码|注册号)\s*[:：]?\s*([0-9A-Z*]{8,24})")
_OPERATOR = re.compile(r"(?:经营者名称|经营者|企业名称|公司名称|主体名称|名称)\s*[:：]\s*([^\s:：，,;；]{2,40})")
_LICENCE_LINK = re.compile(r"营业执照|资质|亮照|证照|执照|licen[cs]e|qualification|zizhi|certificat", re.I)
_FOOD_LICENCE = re.compile(r"(?<![A-Z0-9])(?:JY|SC)\d{14}(?!\d)")

DESCRIPTION = ("[itemprop=description]", "[class*=desc]", "[id*=desc]", "[class*=detail]", "[id*=detail]",
               "[class*=intro]", "[class*=summary]", "[class*=content]", "article")
PROMO = ("[class*=promo]", "[class*=activity]", "[class*=coupon]", "[class*=discount]", "[class*=campaign]")
SERVICE = ("[class*=service]", "[class*=guarantee]", "[class*=policy]", "[class*=after-sale]", "[class*=aftersale]",
           "[class*=return]")
NOTICES = ("[class*=notice]", "[class*=announce]", "[class*=bulletin]", "[class*=gonggao]", "[id*=notice]")
SHOP_INTRO = ("[class*=intro]", "[class*=about]", "[class*=desc]", "[class*=profile]")
BREADCRUMB = ("[class*=breadcrumb] a", "[class*=crumb] a", "nav[aria-label*=readcrumb] a")
MAIN_PICTURES = ("meta[property='og:image']::attr(content)", "[itemprop=image]::attr(src)",
                 "[itemprop=image]::attr(content)", "[class*=gallery] img::attr(src)",
                 "[class*=main-img] img::attr(src)", "[class*=preview] img::attr(src)",
                 "[class*=swiper] img::attr(src)")
DETAIL_PICTURES = ("[class*=detail] img::attr(src)", "[id*=detail] img::attr(src)", "[class*=desc] img::attr(src)")
LICENCE_PICTURES = ("img[alt*=执照]::attr(src)", "img[alt*=资质]::attr(src)", "img[src*=license]::attr(src)",
                    "img[src*=licence]::attr(src)", "img[class*=license]::attr(src)", "[class*=license] img::attr(src)",
                    "[class*=licence] img::attr(src)")
#: longest text taken from one element (a whole page in a "content" div would be matched many times over)
MAX_FIELD = 4000


@dataclass
class AutoPage:
    kind: str  # listing | shop | page
    why: str
    fields: dict[str, Any] = field(default_factory=dict)


def classify(html: str, url: str) -> AutoPage:
    """What the page at ``url`` shows, and its ListingItem or ShopItem fields."""
    sel = Selector(text=html or "<html></html>")
    declared = _declared_products(html, url, sel)
    h1 = [t for t in (_text(n) for n in sel.css("h1")) if t]
    heading = _main_heading(sel, h1)
    product = extract_product(html, url) if declared or heading else None
    if product is not None and declared and product.title and (
            declared == 1 or _same_name(product.title, heading or _page_title(sel))):
        why = "schema.org Product / og:type product" if declared == 1 else \
            f"schema.org Product named as the page ({declared} declared: variants, related goods)"
        return AutoPage("listing", why, _listing_fields(sel, product, url))
    priced = False
    if product is not None and not declared:
        # the price shown next to the page's heading, not one of a "recommended" strip further down
        product.price_text = _price_after_heading(sel) or product.price_text
        priced = bool(product.price_text)
        if priced and _has_buy_button(sel):
            return AutoPage("listing", "a heading, a price and a buy button",
                            _listing_fields(sel, product, url, heading))
    body = " ".join(sel.xpath(f"//body{_TEXT[1:]}").getall())
    parts = urlsplit(url)
    licence = bool(_LICENCE.search(body))
    # a shop's own page (its licence, or a shop URL) shows a few of its goods with prices, but no buy button
    if declared <= 1 and h1 and (licence or _SHOP_PATH.search(f"{parts.path}?{parts.query}")):
        return AutoPage("shop", "a licence block" if licence else "a shop URL", _shop_fields(sel, url, h1[0]))
    if product is not None and priced and len(h1) == 1:
        n_prices = len(sel.css(_PRICE_ELEMENTS))
        # product cards: a price beside a link to the product (the last page of a list may hold only two)
        n_cards = len(sel.xpath(f"//*[{_A_PRICE} and (../descendant::a[@href] or ../../descendant::a[@href])]"))
        if n_prices <= _MAX_PRICES_ON_LISTING and n_cards < 2:
            return AutoPage("listing", f"one h1 and a price ({n_prices} price elements)",
                            _listing_fields(sel, product, url, heading))
    return AutoPage("page", f"{declared} declared products, {len(h1)} h1")



#: the empty element a single-page app mounts into (React, Vue, Next.js, Nuxt, Angular, Svelte)
_APP_MOUNT = ("//body//*[(@id='app' or @id='root' or @id='__next' or @id='__nuxt' or @id='svelte' or @ng-app "
              "or @data-reactroot or @data-v-app) and not(*) and not(normalize-space())]")
#: a page with less visible text than this and a script is a shell its script fills
_SHELL_TEXT = 40


def needs_javascript(html: str) -> str:
    """Why a page fetched without a browser shows less than a visitor sees, or "": a ``<noscript>`` notice
    (text, not a tracking pixel), an empty app mount (``#app``, ``#root``, ``#__next`` ...), or a page with
    scripts and next to no text. Such a page is fetched again through the browser (``NETSWORD_AUTO_RENDER``)."""
    sel = Selector(text=html or "<html></html>")
    notice = " ".join(" ".join(sel.xpath("//noscript//text()").getall()).split())
    if notice and "<" not in notice:  # (some parsers keep a noscript's markup as its text)
        return f"<noscript>: {notice[:60]}"
    mount = sel.xpath(_APP_MOUNT)
    if mount:
        return f"an empty app mount (#{mount[0].attrib.get('id') or 'app'})"
    text = "".join("".join(sel.xpath(f"//body{_TEXT[1:]}").getall()).split())
    if len(text) < _SHELL_TEXT and sel.xpath("//script"):
        return f"scripts and next to no text ({len(text)} characters)"
    return ""

def _has_buy_button(sel: Selector) -> bool:
    """A buy button (add to cart, buy now) for the page's product: not when the price after the heading
    sits in a product card (a list page with a button on every card)."""
    if not sel.css(_BUY_CONTROLS) and not any(
            _BUY.search(node.attrib.get("value", "") + " " + _text(node))
            for node in sel.css("button, a, input[type=submit], input[type=button], [role=button]")):
        return False
    return not _price_in_card(sel)


def _price_in_card(sel: Selector) -> bool:
    """Whether the first price after the heading is in a product card: a block (up to four levels up) with
    at least two siblings of the same tag and class that hold a price too -- the cards of a list."""
    priced = _PAID_PRICE
    first = sel.xpath(f"//h1[1]/following::*[{priced}][1]")
    if not first:
        return False
    for block in first[0].xpath("ancestor-or-self::*[position() <= 4]"):
        tag, cls = block.root.tag, block.attrib.get("class", "")
        if not isinstance(tag, str) or tag in ("body", "html", "main"):
            continue
        same = [n for n in block.xpath("../*") if n.root.tag == tag and n.attrib.get("class", "") == cls]
        if len(same) >= 3 and sum(1 for n in same if n.xpath(f"descendant-or-self::*[{priced}]")) >= 3:
            return True
    return False


#: a heading whose id or class says it is the product's name (Amazon's h1#title > #productTitle ...)
_NAMED_HEADING = ("h1[id*=title]", "h1[class*=title]", "h1[id*=product]", "h1[class*=product]", "h1[class*=name]",
                  "h1[itemprop=name]", "h1 #productTitle", "#productTitle", "h1[class*=goods]", "h1[class*=item]")


def _main_heading(sel: Selector, h1: list[str]) -> str:
    """The product's name as the page heads it: the only ``<h1>``; of several, the one named a title or
    product, else the one the page's ``<title>`` repeats; with none, the ``og:title``."""
    if len(h1) == 1:
        return h1[0]
    for q in _NAMED_HEADING:
        for node in sel.css(q):
            text = _text(node)
            if len(text) >= 3:
                return text
    title = _page_title(sel)
    for text in h1:
        if len(text) >= 5 and text in title:
            return text
    if not h1:
        return (sel.css("meta[property='og:title']::attr(content)").get() or "").strip()
    return ""


def _page_title(sel: Selector) -> str:
    return " ".join((sel.css("title::text").get() or "").split())


def _same_name(a: str, b: str) -> bool:
    """Whether two names are the same product's (one holds the other, case and spacing aside)."""
    x, y = ("".join(a.lower().split()), "".join(b.lower().split()))
    return bool(x and y) and (x in y or y in x)


_LOWER = "translate(@class, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
_NOT_PAID = ("old", "original", "origin", "market", "was", "strike", "line-through", "del", "before", "list")
#: XPath predicates: an element named a price; one that is not a struck-through or "original" price
_A_PRICE = f"(contains({_LOWER}, 'price') or @itemprop='price')"
_PAID_PRICE = _A_PRICE + " and not(" + " or ".join(f"contains({_LOWER}, '{w}')" for w in _NOT_PAID) + ")"


def _price_after_heading(sel: Selector) -> str:
    """The first price element after the ``<h1>`` (not a struck-through or "original" one), as shown."""
    query = (f"//h1[1]/following::*[{_PAID_PRICE}"
             " and not(self::del or self::s or ancestor::del or ancestor::s)]")
    for node in sel.xpath(query)[:5]:
        text = _text(node)
        if 0 < len(text) <= 40 and re.search(r"\d", text):
            return text
    return ""


def _declared_products(html: str, url: str, sel: Selector) -> int:
    """How many products the page's schema.org data declares (an ``og:type`` of product counts as one)."""
    n = 0
    if any(hint in html for hint in ("ld+json", "itemprop", "typeof")):
        for nodes in structured_data(html, url).values():
            for node in nodes:
                n += _count_products(node)
    if n == 0 and (sel.css("meta[property='og:type']::attr(content)").get() or "").lower().startswith("product"):
        n = 1
    return n


def _count_products(node: Any) -> int:
    if isinstance(node, list):
        return sum(_count_products(x) for x in node)
    if not isinstance(node, dict):
        return 0
    types = node.get("@type") or []
    types = [types] if isinstance(types, str) else types
    own = int(any(str(t).rsplit("/", 1)[-1].lower() in ("product", "individualproduct") for t in types))
    return own + sum(_count_products(node[k]) for k in ("@graph", "itemListElement", "item") if k in node)


def _listing_fields(sel: Selector, product: Any, url: str, h1: str = "") -> dict[str, Any]:
    values = {k: v for k, v in product.as_fields().items() if v}
    values["title"] = product.title if values.get("title") and not h1 else (h1 or product.title)
    values["description"] = values.get("description") or _first_text(sel, DESCRIPTION)
    values["promo"] = _first_text(sel, PROMO)
    values["service"] = _first_text(sel, SERVICE)
    crumbs = [t for t in (_text(n) for q in BREADCRUMB for n in sel.css(q)) if t]
    if crumbs:
        values["category"] = crumbs[-1] if crumbs[-1] != values["title"] else (crumbs[-2] if len(crumbs) > 1 else "")
    for a in sel.css("a[href]"):
        href = a.attrib.get("href", "")
        if _SHOP_PATH.search(href):
            values["shop_url"] = urljoin(url, href)
            values["shop_name"] = _text(a)
            break
    values["image_urls"] = _pictures(sel, url, {"main": MAIN_PICTURES, "detail": DETAIL_PICTURES})
    return {k: v for k, v in values.items() if v}


def _shop_fields(sel: Selector, url: str, h1: str) -> dict[str, Any]:
    values: dict[str, Any] = {"name": h1}
    values["description"] = _first_text(sel, SHOP_INTRO)
    values["notices"] = _first_text(sel, NOTICES)
    values["service"] = _first_text(sel, SERVICE)
    values["image_urls"] = _pictures(sel, url, {"license": LICENCE_PICTURES})
    if values["image_urls"]:
        values["license_image"] = values["image_urls"]["license"][0]
    values.update(_licence_values(_licence_block(sel), bool(values["image_urls"]), values.get("notices", "")))
    return {k: v for k, v in values.items() if v}


def licence_fields(html: str, url: str) -> dict[str, Any]:
    """The licence a shop's 资质/亮照 page shows: its text, number, operator, food licence and picture."""
    sel = Selector(text=html or "<html></html>")
    pictures = _pictures(sel, url, {"license": LICENCE_PICTURES})
    values: dict[str, Any] = {"image_urls": pictures}
    if pictures:
        values["license_image"] = pictures["license"][0]
    body = sel.xpath("//body")
    block = _licence_block(sel) or (_text(body[0]) if body else "")
    values.update(_licence_values(block[:MAX_FIELD], bool(pictures), ""))
    return {k: v for k, v in values.items() if v}


def licence_link(html: str, url: str) -> str:
    """The link of a shop page to its licence (资质/亮照) page, absolute, or ""."""
    sel = Selector(text=html or "<html></html>")
    for a in sel.css("a[href]"):
        href = a.attrib.get("href", "").strip()
        if href and not href.startswith(("#", "javascript:")) and (
                _LICENCE_LINK.search(_text(a)) or _LICENCE_LINK.search(href)):
            link = urljoin(url, href)
            if link.split("#")[0] != url.split("#")[0]:
                return link
    return ""


def _licence_values(block: str, picture: bool, notices: str) -> dict[str, Any]:
    """Licence fields from a licence block. Words without a number or a picture ("暂无资质信息", "执照办理中")
    display no licence: they go to the notices, where the rules read them, and leave the licence empty."""
    if not block:
        return {}
    upper = block.upper()
    m = _LABELLED_CODE.search(upper) or _USCC.search(upper)
    food = _FOOD_LICENCE.search(upper)
    if not (m or food or picture):
        return {"notices": f"{notices} {block}".strip()}
    values: dict[str, Any] = {"license_text": block}
    if m:
        # the number as labelled (a wrong length is the licence checks' to say), else any code of the form
        values["license_number"] = m.group(m.lastindex or 0)
    named = _OPERATOR.search(block)
    if named:
        values["operator"] = named.group(1)
    if food:
        values["food_license"] = food.group(0)
    return values


def _pictures(sel: Selector, url: str, roles: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Absolute http(s) URLs of the page's pictures per role, page order, each once (the profile's
    ``images:`` limits apply: count, size)."""
    seen: set[str] = set()
    out: dict[str, list[str]] = {}
    for role, queries in roles.items():
        for q in queries:
            for raw in sel.css(q).getall():
                link = urljoin(url, raw.strip())
                if link.startswith(("http://", "https://")) and link not in seen:
                    seen.add(link)
                    out.setdefault(role, []).append(link)
    return out


def _licence_block(sel: Selector) -> str:
    """The text of the smallest block holding the licence words (its heading and the numbers beside it)."""
    words = " or ".join(f"contains(., '{w}')" for w in ("营业执照", "统一社会信用代码", "注册号", "经营者信息", "资质"))
    for node in sel.xpath(f"//text()[{words}]/ancestor::*[self::div or self::section or self::table or self::ul "
                          "or self::dl or self::aside or self::footer][1]"):
        text = _text(node)
        if text:
            return text[:MAX_FIELD]
    return ""


def _first_text(sel: Selector, queries: tuple[str, ...]) -> str:
    for q in queries:
        for node in sel.css(q):
            text = _text(node)
            if len(text) >= 4:
                return text[:MAX_FIELD]
    return ""


def _text(node: Selector) -> str:
    return " ".join(" ".join(t.strip() for t in node.xpath(_TEXT).getall() if t.strip()).split())
