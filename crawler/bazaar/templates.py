"""Pages of the bazaar (仿真集市). Every catalog string goes through :func:`e` (html.escape).

The listing page and the category page are shells: ``/static/bazaar.js`` fills them from the JSON API.
The markup is the contract with ``crawler/sites/bazaar.yml`` (see ``crawler/bazaar/README.md``).
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote, urlencode

from netsword.formats import format_price

SITE_NAME = "仿真集市"
PAGE_SIZE = 20

CSS = """body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;background:#f3f7f4;color:#1d2b22}
header.top{background:#1f7a4d;color:#fff;padding:10px 18px;display:flex;gap:14px;align-items:center}
header.top a{color:#fff;text-decoration:none}.wrap{max-width:980px;margin:14px auto;background:#fff;padding:18px}
.goods{border-bottom:1px solid #e3ece6;padding:8px 0}.goods-price,.item-price{color:#d2461f;font-weight:bold}
.feed{min-height:200px}#sentinel{height:40px}.license{border:2px solid #1f7a4d;padding:10px}
.captcha{border:1px solid #999;padding:20px;text-align:center}"""


def e(value: Any) -> str:
    return "" if value is None else html.escape(str(value), quote=True)


def price_text(x: float | None) -> str:
    return format_price(x) if x else ""


def page(title: str, body: str, *, user: str | None, body_attrs: str = "", script: bool = False,
         categories: list[dict[str, Any]] | None = None, search: bool = True) -> str:
    nav = "".join(f'<a class="nav-cat" href="/c/{quote(c["slug"])}">{e(c["label"])}</a>' for c in categories or [])
    who = (f'<span class="user">{e(user)}</span><a class="logout" href="/logout">退出</a>' if user
           else '<a class="login" href="/login">登录</a>')
    js = '<script src="/static/bazaar.js" defer></script>' if script else ""
    return ('<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
            f"<title>{e(title)} - {SITE_NAME}</title><style>{CSS}</style>{js}</head>\n"
            f'<body{body_attrs}><header class="top"><a class="brand" href="/">{SITE_NAME}</a>{nav}'
            + ('<form class="search" action="/search" method="get"><input name="q" placeholder="搜索宝贝">'
               '<button type="submit">搜索</button></form>' if search else "")
            + f'{who}</header>\n'
            f'<div class="wrap">\n{body}\n</div><footer class="foot">{SITE_NAME} · 本地仿真站点，内容均为虚构</footer>'
            "</body></html>\n")


def goods_row(item: dict[str, Any], shop: dict[str, Any]) -> str:
    return (f'<div class="goods" data-id="{e(item["id"])}"><a class="goods-link" href="/item/{e(item["id"])}">'
            f'{e(item["title"])}</a> <span class="goods-price">{e(price_text(item["price"]))}</span> '
            f'<a class="goods-shop" href="/shop/{e(shop["id"])}">{e(shop["name"])}</a></div>')


def render_home(categories: list[dict[str, Any]], user: str | None) -> str:
    cats = "".join(f'<li><a class="cat-link" href="/c/{quote(c["slug"])}">{e(c["label"])}</a></li>'
                   for c in categories)
    body = (f'<h1>{SITE_NAME}</h1><p class="hint">浏览商品详情、店铺和搜索结果需先登录。</p>'
            f'<ul class="cats">{cats}</ul>')
    return page("首页", body, user=user, categories=categories)


def render_login(next_url: str, message: str = "") -> str:
    msg = f'<p class="login-message">{e(message)}</p>' if message else ""
    body = (f'<h1>登录仿真集市</h1>{msg}<form id="login-form" method="post" action="/login">'
            f'<input type="hidden" name="next" value="{e(next_url)}">'
            '<p><label>账号 <input name="user" autocomplete="username"></label></p>'
            '<p><label>密码 <input name="pass" type="password" autocomplete="current-password"></label></p>'
            '<button type="submit">登录</button></form>')
    return page("登录", body, user=None, search=False)  # one submit button on the page: the login's


def render_verify(message: str = "") -> str:
    body = ('<div class="captcha" id="nc_1_wrapper"><h1>安全验证</h1>'
            f'<p>{e(message or "访问过于频繁，请拖动滑块完成验证后继续访问。")}</p>'
            '<div class="slider" role="slider" aria-valuenow="0">&gt;&gt; 请按住滑块，拖动到最右边</div></div>')
    return page("安全验证", body, user=None, body_attrs=' data-wall="verification"')


def render_too_many(retry_after: int) -> str:
    return page("请求过于频繁", f'<h1>请求过于频繁</h1><p class="message">请 {retry_after} 秒后再试。</p>', user=None)


def render_category(cat: dict[str, Any], user: str | None, categories: list[dict[str, Any]]) -> str:
    body = (f'<h1 class="cat-title">{e(cat["label"])}</h1>'
            f'<div class="feed" id="feed" data-api="/api/items" data-cat="{e(cat["slug"])}"></div>'
            '<div id="sentinel" class="loading">加载中…</div><noscript>请启用JavaScript浏览本页。</noscript>')
    return page(cat["label"], body, user=user, script=True, categories=categories,
                body_attrs=f' data-page="category" data-cat="{e(cat["slug"])}"')


def render_item_shell(item_id: str, user: str | None, categories: list[dict[str, Any]]) -> str:
    body = (f'<div id="item" class="item" data-id="{e(item_id)}" data-api="/api/item/{e(item_id)}">'
            '<p class="loading">商品加载中…</p></div><noscript>请启用JavaScript查看商品详情。</noscript>')
    return page("商品详情", body, user=user, script=True, categories=categories,
                body_attrs=f' data-page="item" data-item="{e(item_id)}"')


def render_search(q: str, rows: str, page_no: int, pages: int, total: int, user: str | None,
                  categories: list[dict[str, Any]]) -> str:
    nxt = (f'<a class="next" href="/search?{urlencode({"q": q, "page": page_no + 1})}">下一页</a>'
           if page_no < pages else "")
    body = (f'<h1>搜索：{e(q)}</h1><p class="count">共 {total} 件宝贝</p><div class="results">{rows}</div>'
            f'<div class="pager">第 {page_no}/{max(pages, 1)} 页 {nxt}</div>')
    return page(f"搜索 {q}", body, user=user, categories=categories)


def render_shop(shop: dict[str, Any], items: list[dict[str, Any]], user: str | None,
                categories: list[dict[str, Any]]) -> str:
    rows = "".join(goods_row(x, shop) for x in items)
    sid = e(shop["id"])
    body = (f'<h1 class="shop-name">{e(shop["name"])}</h1><div class="shop-intro">{e(shop["intro"])}</div>'
            f'<p class="contact">客服电话：<span class="phone">{e(shop["phone"])}</span></p>'
            f'<p><a class="qualification" href="/shop/{sid}/license">店铺资质（营业执照、许可证）</a></p>'
            f'<h2>售后说明</h2><div class="policy">{e(shop["policy"])}</div>'
            f'<h2>店铺公告</h2><div class="notice">{e(shop["notice"])}</div>'
            f'<h2>全部宝贝（{len(items)}）</h2><div class="shop-goods">{rows}</div>')
    return page(shop["name"], body, user=user, categories=categories, body_attrs=f' data-shop-id="{sid}"')


def render_license(shop: dict[str, Any], user: str | None) -> str:
    """The 资质/亮照 page: the licence as text, only as a picture, or nothing uploaded."""
    lic = shop.get("license")
    sid = e(shop["id"])
    if not lic:
        inner = '<div class="license-empty">该店铺暂未上传营业执照信息。</div>'
    else:
        rows = ['<div class="license"><h2>营业执照</h2>']
        if lic["shown_as"] == "image":
            rows.append(f'<img class="license-img" src="/img/{e(lic["picture"])}.png" alt="营业执照照面">')
        else:
            rows.append(f'<p>企业名称：<span class="company">{e(lic["company"])}</span></p>'
                        f'<p>统一社会信用代码：<span class="uscc">{e(lic["uscc"])}</span></p>'
                        f'<p>住所：<span class="address">{e(lic["address"])}</span></p>')
        if lic.get("food_license"):
            rows.append(f'<p>{e(lic["food_license_label"])}：'
                        f'<span class="food-license">{e(lic["food_license"])}</span></p>')
        rows.append("</div>")
        inner = "".join(rows)
    body = (f'<nav class="crumb"><a href="/shop/{sid}">{e(shop["name"])}</a> › 店铺资质</nav>'
            f'<h1 class="qualification-title">{e(shop["name"])} · 资质信息</h1>{inner}'
            '<p class="note">以上信息由经营者自行提交，仿真集市依法公示。</p>')
    return page(f'{shop["name"]} 资质', body, user=user, body_attrs=f' data-shop="{sid}" data-page="license"')


def robots_txt(base: str) -> str:
    return f"User-agent: *\nAllow: /\nDisallow: /__admin__\nDisallow: /logout\n\nSitemap: {base}/sitemap.xml\n"


def sitemap_xml(base: str, shops: list[dict[str, Any]], listings: list[dict[str, Any]]) -> str:
    urls = [f"{base}/shop/{s['id']}" for s in shops] + [f"{base}/item/{x['id']}" for x in listings]
    body = "".join(f"<url><loc>{e(u)}</loc></url>\n" for u in urls)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{body}</urlset>\n')


#: The front end: fills the item page from /api/item/<id> and the category page from /api/items with
#: infinite scroll (the next page when the sentinel comes into view, until a page comes back empty).
#: An API call redirected to the login page (the session ended) or to /verify (the wall) takes the browser there,
#: as a 401 / VERIFY_REQUIRED answer does (api_walls="json"), like a real platform's front end.
BAZAAR_JS = r"""(function () {
  "use strict";
  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) { n.className = cls; }
    if (text !== undefined && text !== null) { n.textContent = String(text); }
    return n;
  }
  function later(seconds) {
    return new Promise(function (done) { window.setTimeout(done, seconds * 1000); });
  }
  function getJSON(url, tries) {
    tries = tries || 0;
    return fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"}).then(function (r) {
      if (r.status === 429 && tries < 5) {  // too fast: wait as the server asks, then again
        var wait = parseInt(r.headers.get("Retry-After") || "1", 10) || 1;
        return later(wait).then(function () { return getJSON(url, tries + 1); });
      }
      if (r.redirected && /^\/(login|verify)/.test(new URL(r.url).pathname)) {  // the session ended, or a wall
        var to = new URL(r.url);
        var wall = to.pathname === "/verify" ? "/verify" : "/login?next=" +
          encodeURIComponent(window.location.pathname + window.location.search) +
          (to.searchParams.get("expired") ? "&expired=1" : "");
        window.location.href = wall;
        throw new Error("redirected to " + wall);
      }
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (r.status === 401) {
          window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname + window.location.search);
          throw new Error("login required");
        }
        if (body && body.code === "VERIFY_REQUIRED") {
          window.location.href = body.verify_url || "/verify";
          throw new Error("verification required");
        }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return body;
      });
    });
  }
  function renderItem(box) {
    getJSON(box.getAttribute("data-api")).then(function (body) {
      var d = body.data;
      box.textContent = "";
      box.appendChild(el("h1", "item-title", d.title));
      var prices = el("div", "prices");
      prices.appendChild(el("span", "item-price", d.price));
      if (d.original_price) { prices.appendChild(el("del", "item-orig", d.original_price)); }
      prices.appendChild(el("span", "item-sold", "已售 " + d.sold));
      box.appendChild(prices);
      if (d.promo) { box.appendChild(el("div", "item-promo", d.promo)); }
      box.appendChild(el("div", "item-service", d.service));
      var table = el("table", "item-attrs");
      d.attrs.forEach(function (a) {
        var tr = el("tr"); tr.appendChild(el("th", null, a.name)); tr.appendChild(el("td", null, a.value));
        table.appendChild(tr);
      });
      box.appendChild(table);
      box.appendChild(el("div", "item-desc", d.desc));
      var crumb = el("a", "item-cat", d.category.label); crumb.href = "/c/" + encodeURIComponent(d.category.slug);
      box.appendChild(crumb);
      var shop = el("a", "item-shop", d.shop.name); shop.href = d.shop.url;
      box.appendChild(shop);
      document.body.setAttribute("data-loaded", "1");
    }).catch(function (err) { box.textContent = "加载失败：" + err.message; });
  }
  function feed(box) {
    var sentinel = document.getElementById("sentinel");
    var page = 0, busy = false, done = false;
    function more() {
      if (busy || done) { return; }
      busy = true;
      page += 1;
      var cat = encodeURIComponent(box.getAttribute("data-cat"));
      var url = box.getAttribute("data-api") + "?cat=" + cat + "&page=" + page;
      getJSON(url).then(function (body) {
        var items = body.data.items;
        items.forEach(function (x) {
          var row = el("div", "goods"); row.setAttribute("data-id", x.id);
          var a = el("a", "goods-link", x.title); a.href = x.detail_url;
          row.appendChild(a); row.appendChild(el("span", "goods-price", x.price));
          var s = el("a", "goods-shop", x.shop.name); s.href = x.shop.url; row.appendChild(s);
          box.appendChild(row);
        });
        busy = false;
        if (items.length === 0) {
          done = true; sentinel.textContent = "没有更多了"; document.body.setAttribute("data-end", "1");
        } else if (sentinel.getBoundingClientRect().top < window.innerHeight) {
          more();
        }
      }).catch(function (err) { sentinel.textContent = "加载失败：" + err.message; busy = false; });
    }
    window.addEventListener("scroll", function () {
      if (sentinel.getBoundingClientRect().top < window.innerHeight + 200) { more(); }
    });
    more();
  }
  var item = document.getElementById("item");
  if (item) { renderItem(item); }
  var box = document.getElementById("feed");
  if (box) { feed(box); }
})();
"""
