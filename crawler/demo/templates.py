"""HTML templates of the demo marketplace. Every catalog string goes through :func:`e` (html.escape).

The markup follows the selector contract in ``crawler/demo/README.md``. Functions take plain
catalog dicts, so tests can render synthetic (hostile) items through the same code.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote, urlencode

from netsword.formats import format_price

SITE_NAME = "网剑演示商城"
FOOTER = "网剑演示商城 · 仅用于演示"
PAGE_SIZE = 20

CSS = """body{font-family:"PingFang SC","Microsoft YaHei",sans-serif;margin:0;color:#222;background:#f6f6f6}
header.site{background:#c81623;color:#fff;padding:8px 16px}
header.site a{color:#fff;margin-right:10px;text-decoration:none}
main{max-width:1100px;margin:12px auto;background:#fff;padding:16px}.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{width:200px;border:1px solid #eee;padding:8px}.card-price,.price{color:#c81623;font-weight:bold}
del.original-price{color:#999;margin-left:8px}nav.breadcrumb{font-size:13px;margin-bottom:8px}
.promo{background:#fff4f4;padding:6px}.service{color:#666;font-size:13px}
table.attrs th{text-align:left;padding-right:16px}.license{border:1px dashed #c81623;padding:8px;margin:8px 0}
footer{text-align:center;color:#999;font-size:12px;padding:16px}
a.next,a.prev{display:inline-block;margin:12px 8px 0 0}"""

#: External script for JavaScript-rendered categories (kept out of the HTML on purpose).
CATALOG_JS = r"""(function () {
  "use strict";
  var box = document.getElementById("cards");
  if (!box) { return; }
  var params = new URLSearchParams(window.location.search);
  var page = parseInt(params.get("page") || "1", 10) || 1;
  fetch(box.getAttribute("data-api") + "?page=" + page, {headers: {"Accept": "application/json"}})
    .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
    .then(function (data) {
      var cls = ["item", "link"].join("-");
      data.cards.forEach(function (c) {
        var card = document.createElement("div");
        card.className = "card";
        card.setAttribute("data-id", c.id);
        var a = document.createElement("a");
        a.className = cls;
        a.href = c.url;
        a.textContent = c.title;
        var price = document.createElement("span");
        price.className = "card-price";
        price.textContent = c.price_text;
        var shop = document.createElement("a");
        shop.className = "card-shop";
        shop.href = c.shop_url;
        shop.textContent = c.shop_name;
        card.appendChild(a); card.appendChild(price); card.appendChild(shop);
        box.appendChild(card);
      });
      var pager = document.getElementById("pager");
      if (data.next && pager) {
        var n = document.createElement("a");
        n.className = "next";
        n.href = data.next;
        n.textContent = "下一页";
        pager.appendChild(n);
      }
      document.body.setAttribute("data-loaded", "1");
    })
    .catch(function (err) {
      box.textContent = "商品加载失败：" + err.message;
    });
})();
"""


def e(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute (None -> "")."""
    return "" if value is None else html.escape(str(value), quote=True)




def shown_price(x: float, factor: float) -> str:
    return format_price(round(x * factor, 2))


def page(title: str, body: str, categories: list[dict[str, Any]], *, body_attrs: str = "",
         head_extra: str = "") -> str:
    nav = "".join(f'<a class="nav-link" href="/category/{quote(c["slug"])}/">{e(c["label"])}</a>' for c in categories)
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">'
        f"<title>{e(title)} - {SITE_NAME}</title><style>{CSS}</style>{head_extra}</head>\n"
        f"<body{body_attrs}>\n"
        f'<header class="site"><a class="logo" href="/">{SITE_NAME}</a>{nav}'
        '<form class="search" action="/search" method="get"><input name="q" placeholder="搜索商品">'
        '<button type="submit">搜索</button></form></header>\n'
        f"<main>\n{body}\n</main>\n<footer>{FOOTER}</footer>\n</body></html>\n"
    )


def card(listing: dict[str, Any], shop: dict[str, Any], factor: float) -> str:
    lid = e(listing["id"])
    return (f'<div class="card" data-id="{lid}"><a class="item-link" href="/item/{lid}.html">{e(listing["title"])}</a>'
            f'<span class="card-price">{e(shown_price(listing["price"], factor))}</span>'
            f'<a class="card-shop" href="/shop/{e(shop["id"])}/">{e(shop["name"])}</a></div>')


def card_json(listing: dict[str, Any], shop: dict[str, Any], factor: float) -> dict[str, Any]:
    return {"id": listing["id"], "title": listing["title"], "url": f"/item/{listing['id']}.html",
            "price": round(listing["price"] * factor, 2), "price_text": shown_price(listing["price"], factor),
            "shop_id": shop["id"], "shop_name": shop["name"], "shop_url": f"/shop/{shop['id']}/"}


def pager(prev_url: str | None, next_url: str | None, page_no: int, pages: int) -> str:
    parts = [f'<div class="pager" id="pager"><span class="page-info">第 {page_no} / {pages} 页</span>']
    if prev_url:
        parts.append(f'<a class="prev" href="{e(prev_url)}">上一页</a>')
    if next_url:
        parts.append(f'<a class="next" href="{e(next_url)}">下一页</a>')
    parts.append("</div>")
    return "".join(parts)


def render_home(categories: list[dict[str, Any]], shops: list[dict[str, Any]], n_listings: int) -> str:
    cats = "".join(f'<li><a class="cat-link" href="/category/{quote(c["slug"])}/">{e(c["label"])}</a></li>'
                   for c in categories)
    featured = "".join(f'<li><a class="shop-home" href="/shop/{e(s["id"])}/">{e(s["name"])}</a></li>'
                       for s in shops[:8])
    body = (f'<h1>{SITE_NAME}</h1><p class="intro">共 {len(shops)} 家店铺、{n_listings} 件在售商品。</p>'
            f'<section class="categories"><h2>商品分类</h2><ul>{cats}</ul></section>'
            f'<section class="featured"><h2>推荐店铺</h2><ul>{featured}</ul></section>')
    return page("首页", body, categories)


def render_category(categories: list[dict[str, Any]], cat: dict[str, Any], cards_html: str, page_no: int,
                    pages: int, total: int) -> str:
    base = f"/category/{quote(cat['slug'])}/"
    prev_url = f"{base}?page={page_no - 1}" if page_no > 1 else None
    next_url = f"{base}?page={page_no + 1}" if page_no < pages else None
    crumb = f'<nav class="breadcrumb"><a href="/">首页</a> › <span class="current">{e(cat["label"])}</span></nav>'
    head = f'<h1 class="category-title">{e(cat["label"])}</h1><p class="count">共 {total} 件商品</p>'
    if cat.get("js"):
        api = f"/api/category/{quote(cat['slug'])}"
        body = (f'{crumb}{head}<div class="cards" id="cards" data-api="{e(api)}"></div>'
                '<noscript>本分类商品需启用JavaScript后浏览。</noscript>'
                f'{pager(prev_url, None, page_no, pages)}')
        return page(cat["label"], body, categories, head_extra='<script src="/static/catalog.js" defer></script>',
                    body_attrs=' data-js-category="1"')
    body = f'{crumb}{head}<div class="cards" id="cards">{cards_html}</div>{pager(prev_url, next_url, page_no, pages)}'
    return page(cat["label"], body, categories)


def render_search(categories: list[dict[str, Any]], q: str, cards_html: str, page_no: int, pages: int,
                  total: int) -> str:
    def url(n: int) -> str:
        return "/search?" + urlencode({"q": q, "page": n})

    prev_url = url(page_no - 1) if page_no > 1 else None
    next_url = url(page_no + 1) if page_no < pages else None
    summary = f"“{e(q)}” 共找到 {total} 件商品" if q else "请输入关键词"
    body = (f'<nav class="breadcrumb"><a href="/">首页</a> › <span class="current">搜索</span></nav>'
            f'<h1 class="search-title">搜索结果</h1><p class="count">{summary}</p>'
            f'<div class="cards" id="cards">{cards_html}</div>{pager(prev_url, next_url, page_no, max(pages, 1))}')
    return page(f"搜索 {q}", body, categories)


def render_license(shop: dict[str, Any]) -> str:
    lic = shop.get("license")
    if not lic:
        return ""
    heading = "营业执照信息" if lic.get("uscc") else "经营者身份信息"
    rows = [f'<div class="license"><h2>{heading}</h2>',
            f'<p>经营者名称：<span class="company">{e(lic.get("company"))}</span></p>']
    if lic.get("uscc"):
        rows.append(f'<p>统一社会信用代码：<span class="uscc">{e(lic["uscc"])}</span></p>')
    if lic.get("food_license"):
        rows.append(f'<p>{e(lic.get("food_license_label") or "食品经营许可证")}：'
                    f'<span class="food-license">{e(lic["food_license"])}</span></p>')
    for other in lic.get("other") or []:
        rows.append(f'<p class="other-license">{e(other)}</p>')
    if lic.get("exemption"):
        rows.append(f'<p class="exemption">{e(lic["exemption"])}</p>')
    if lic.get("image"):
        rows.append(f'<img class="license-img" src="/static/license/{e(shop["id"])}.svg" alt="营业执照照面">')
    rows.append("</div>")
    return "".join(rows)


def render_shop(categories: list[dict[str, Any]], shop: dict[str, Any], listings: list[dict[str, Any]],
                factor: float) -> str:
    cat = next((c for c in categories if c["slug"] == shop.get("category")), None)
    crumb_cat = f'<a href="/category/{quote(cat["slug"])}/">{e(cat["label"])}</a> › ' if cat else ""
    cards_html = "".join(card(x, shop, factor) for x in listings)
    body = (f'<nav class="breadcrumb"><a href="/">首页</a> › {crumb_cat}'
            f'<span class="current">{e(shop["name"])}</span></nav>'
            f'<div class="shop-header"><h1 class="shop-name">{e(shop["name"])}</h1>'
            f'<span class="opened">开店时间：{e(shop.get("opened"))}</span></div>'
            f'<div class="shop-intro">{e(shop.get("intro"))}</div>{render_license(shop)}'
            f'<div class="contact">客服电话：<span class="phone">{e(shop.get("phone"))}</span> '
            f'地址：<span class="address">{e(shop.get("address"))}</span></div>'
            f'<h2>售后政策</h2><div class="policy">{e(shop.get("policy"))}</div>'
            f'<h2>店铺公告</h2><div class="notice">{e(shop.get("notice"))}</div>'
            f'<section class="shop-items"><h2>全部商品（{len(listings)}）</h2>'
            f'<div class="cards">{cards_html}</div></section>')
    return page(shop["name"], body, categories, body_attrs=f' data-shop-id="{e(shop["id"])}"')


def render_listing(categories: list[dict[str, Any]], listing: dict[str, Any], shop: dict[str, Any],
                   factor: float) -> str:
    cat = next((c for c in categories if c["slug"] == listing.get("category")),
               {"slug": listing.get("category", ""), "label": listing.get("category", "")})
    orig = listing.get("original_price")
    del_html = f' <del class="original-price">{e(shown_price(orig, factor))}</del>' if orig else ""
    promo = f'<div class="promo">{e(listing["promo"])}</div>' if listing.get("promo") else ""
    attrs = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in (listing.get("attributes") or {}).items())
    lid = e(listing["id"])
    body = (f'<nav class="breadcrumb"><a href="/">首页</a> › '
            f'<a class="cat" href="/category/{quote(str(cat["slug"]))}/">{e(cat["label"])}</a> › '
            f'<span class="current">{e(listing["title"])}</span></nav>'
            f'<article class="listing"><h1 class="title">{e(listing["title"])}</h1>'
            f'<img class="photo" src="/static/item/{lid}.svg" width="240" height="160" alt="">'
            f'<div class="price-box"><span class="price">{e(shown_price(listing["price"], factor))}</span>{del_html}'
            f' <span class="sold">月销 {e(listing.get("sold", 0))}</span></div>{promo}'
            f'<div class="service">{e(listing.get("service"))}</div>'
            f'<a class="add-cart" href="/cart?add={lid}" rel="nofollow">加入购物车</a>'
            f'<h2>商品参数</h2><table class="attrs">{attrs}</table>'
            f'<h2>商品详情</h2><div class="desc">{e(listing.get("description"))}</div></article>'
            f'<aside class="shop-box">店铺：<a class="shop-link" href="/shop/{e(shop["id"])}/">'
            f'{e(shop["name"])}</a></aside>')
    return page(listing["title"], body, categories, body_attrs=f' data-listing-id="{lid}"')


def render_simple(categories: list[dict[str, Any]], title: str, message: str) -> str:
    body = f'<h1>{e(title)}</h1><p class="message">{e(message)}</p><p><a href="/">返回首页</a></p>'
    return page(title, body, categories)


def render_license_svg(shop: dict[str, Any]) -> str:
    lic = shop.get("license") or {}
    x = html.escape  # XML text escaping
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="600" height="400" viewBox="0 0 600 400">'
            '<rect width="600" height="400" fill="#fffaf0" stroke="#c81623" stroke-width="8"/>'
            '<text x="300" y="70" font-size="36" text-anchor="middle" fill="#c81623">营业执照</text>'
            f'<text x="60" y="150" font-size="20">统一社会信用代码：{x(str(lic.get("uscc") or ""))}</text>'
            f'<text x="60" y="200" font-size="20">名称：{x(str(lic.get("company") or ""))}</text>'
            f'<text x="60" y="250" font-size="20">住所：{x(str(shop.get("address") or ""))}</text>'
            '<text x="300" y="360" font-size="14" text-anchor="middle" fill="#999">网剑演示商城 · 仅用于演示</text>'
            "</svg>")


#: the fill of every product picture (a live screenshot shows it; an offline re-render cannot load it)
PHOTO_FILL = "#2f6fdf"


def render_photo_svg(listing: dict[str, Any]) -> str:
    """The listing's product picture: a blue card with its id (what a live screenshot loads)."""
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="240" height="160" viewBox="0 0 240 160">'
            f'<rect width="240" height="160" fill="{PHOTO_FILL}"/>'
            f'<text x="120" y="90" font-size="28" text-anchor="middle" fill="#ffffff">'
            f'{html.escape(listing["id"])}</text>'
            "</svg>")


def robots_txt(base: str) -> str:
    return f"User-agent: *\nAllow: /\nDisallow: /cart\n\nSitemap: {base}/sitemap.xml\n"


def sitemap_xml(base: str, shops: list[dict[str, Any]], lastmod: str) -> str:
    urls = "".join(f"<url><loc>{e(base)}/shop/{e(s['id'])}/</loc><lastmod>{e(lastmod)}</lastmod></url>\n"
                   for s in shops)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n')
