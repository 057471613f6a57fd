"""Shops and listings of the demo marketplace whose evidence is in pictures (issue 14).

Added after the rest of the catalog, with their own random generator, so the earlier shops and
listings keep their ids and content. Each listing here reads as lawful in its text; the claims of
the violating ones are painted into a detail picture only. Shop licences are shown only as a
picture: valid, with a wrong check character, blurred beyond reading, or naming another company.
Two home-textile shops show the same product photos (the second copy scaled and saved again).

Keys as in content_shops / content_violations, plus ``pic`` (the licence picture: valid | bad_check |
blurred | other_name), ``detail`` (lines of the detail picture), ``photo`` (a product photo id,
shared between shops to reuse it).
"""

# ruff: noqa: E501  (content tables: long Chinese strings read better on one line)

from __future__ import annotations

from typing import Any

from crawler.demo.content_violations import AD, DISCLOSE, FAKE

PICTURE_SHOPS: list[dict[str, Any]] = [
    {"tag": "P1", "cat": "health", "name": "清源图文保健馆", "operator": "杭州清源健康科技有限公司", "kind": "company",
     "area": "杭州西湖", "pic": "valid", "food": "JY", "intro": "保健食品、营养品专营，详情见商品图文。"},
    {"tag": "P2", "cat": "digital", "name": "声浪数码图文店", "operator": "深圳声浪电子有限公司", "kind": "company",
     "area": "深圳南山", "pic": "bad_check", "intro": "耳机、音箱、数据线。",
     "viol": ([DISCLOSE], "@uscc", "营业执照图片上的统一社会信用代码校验位错误")},
    {"tag": "P3", "cat": "home", "name": "朦胧家居小铺", "operator": "苏州朦胧家居用品有限公司", "kind": "company",
     "area": "苏州吴中", "pic": "blurred", "intro": "抱枕、靠垫、布艺小物。",
     "viol": ([DISCLOSE], "未展示可辨认的营业执照（执照图片模糊，无法识别编号）", "营业执照只有一张看不清的图片")},
    {"tag": "P4", "cat": "apparel", "name": "潮步鞋履馆", "operator": "晋江潮步鞋业有限公司", "kind": "company",
     "area": "泉州晋江", "pic": "other_name", "other_name": "泉州远航贸易有限公司", "intro": "运动鞋、休闲鞋。",
     "viol": ([DISCLOSE], "未展示本店经营者的营业执照（执照图片上的名称为泉州远航贸易有限公司）",
              "营业执照图片上的名称与公示的经营者不一致")},
    {"tag": "P5", "cat": "home", "name": "织梦家纺原创店", "operator": "南通织梦家纺有限公司", "kind": "company",
     "area": "苏州吴中", "pic": "valid", "intro": "原创设计床品，自有工厂。"},
    {"tag": "P6", "cat": "home", "name": "梦织家纺特卖店", "operator": "义乌梦织贸易商行", "kind": "individual",
     "area": "义乌", "pic": "valid", "intro": "床品四件套特卖。"},
]

PICTURE_LISTINGS: list[dict[str, Any]] = [
    # image-only violations: the text is ordinary, the claim is in the detail picture
    {"shop": "P1", "cat": "health", "title": "清源牌 植物甾醇压片糖果 60片", "price": 128.0,
     "desc": "压片糖果，每日2片，温水送服。", "detail": ["【功效】降血压 治疗糖尿病", "三天见效 无效退款"],
     "cats": [AD], "ev": "治疗糖尿病", "why": "详情图宣称食品治疗疾病"},
    {"shop": "P1", "cat": "health", "title": "元气牌 乳清蛋白粉 1kg", "price": 268.0,
     "desc": "乳清蛋白粉，冲调方便，香草口味。", "detail": ["全网销量第一", "最好的蛋白粉 品质保证"],
     "cats": [AD], "ev": "全网销量第一", "why": "详情图使用绝对化用语"},
    {"shop": "P1", "cat": "health", "title": "甄养 深海鱼油软胶囊 100粒", "price": 158.0,
     "desc": "鱼油软胶囊，每日1粒，随餐食用。", "detail": ["根治三高 替代药物", "医生推荐 专家推荐"],
     "cats": [AD], "ev": "根治三高", "why": "详情图宣称根治疾病、医生推荐"},
    {"shop": "P2", "cat": "digital", "title": "声浪 蓝牙耳机 Pro 降噪款", "price": 399.0,
     "desc": "主动降噪，续航30小时，蓝牙5.3。", "detail": ["国家级音质认证", "全网第一 行业领先"],
     "cats": [AD], "ev": "国家级", "why": "详情图使用国家级、全网第一等用语"},
    {"shop": "P4", "cat": "apparel", "title": "潮步 男款运动鞋 42码", "price": 239.0,
     "desc": "透气网面，防滑橡胶底。", "detail": ["高仿原单 1:1品质", "专柜同款 细节对比"],
     "cats": [FAKE], "ev": "高仿", "why": "详情图标明高仿"},
    # lawful detail pictures
    {"shop": "P1", "cat": "health", "title": "清源牌 即食燕麦片 1kg", "price": 39.9,
     "desc": "即食燕麦片，开水冲泡三分钟。", "detail": ["产品规格：1kg/袋", "配料：燕麦 产地：内蒙古", "保质期：12个月"]},
    {"shop": "P2", "cat": "digital", "title": "声浪 编织充电线 1米", "price": 29.0,
     "desc": "编织线身，支持快充。", "detail": ["线长：1米 接口：Type-C", "支持快充 新品上架"]},
    {"shop": "P3", "cat": "home", "title": "朦胧 棉麻抱枕 45×45cm", "price": 49.0,
     "desc": "棉麻面料，可拆洗。", "detail": ["面料：棉麻混纺", "尺寸：45×45cm 可拆洗"]},
    # the same photos in two shops
    {"shop": "P5", "cat": "home", "title": "织梦 纯棉四件套 1.8m床 星空蓝", "price": 329.0,
     "desc": "全棉斜纹，活性印染。", "photo": "bedding-blue"},
    {"shop": "P5", "cat": "home", "title": "织梦 水洗棉夏凉被 200×230cm", "price": 199.0,
     "desc": "水洗棉面料，可机洗。", "photo": "quilt-grey"},
    {"shop": "P6", "cat": "home", "title": "梦织 全棉床品四件套 1.8米 蓝色", "price": 219.0,
     "desc": "纯棉面料，亲肤透气。", "photo": "bedding-blue", "copy": True},
    {"shop": "P6", "cat": "home", "title": "梦织 夏凉被 水洗棉 2米", "price": 129.0,
     "desc": "水洗工艺，柔软蓬松。", "photo": "quilt-grey", "copy": True},
]

PHOTOS: dict[str, dict[str, Any]] = {
    "bedding-blue": {"kind": "photo", "title": "织梦家纺 四件套", "color": "#2f5d9a", "seed": 11},
    "quilt-grey": {"kind": "photo", "title": "织梦家纺 夏凉被", "color": "#8a8f99", "seed": 12},
}
