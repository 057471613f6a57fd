"""Shops of the bazaar (仿真集市) and what their qualification pages (资质/亮照) show.

Keys: id, cat (site category slug), name, operator (经营者 as registered), area (key of AREAS),
lic: how the qualification page shows the business licence --
  text (company and USCC as text), image (only a picture of the licence, drawn with Pillow),
  bad_text (USCC as text, wrong check character), bad_image (picture, wrong check character),
  none (the page says nothing was uploaded);
food: None | JY | SC (a food permit shown as text on the qualification page);
intro, policy, notice; viol: (categories, rule ids, evidence, why) when the shop violates;
allow: lawful phrases on the page that look like violations.
Each entry is built by :func:`shop` (which checks the area and the licence mode).
Nothing here is real: names, companies and numbers are invented.
"""

# ruff: noqa: E501  (content tables: long Chinese strings read better on one line)

from __future__ import annotations

from typing import Any

DISCLOSE = "电子商务经营者未履行市场主体公示义务"
NOFOOD = "缺乏资质经营食品"
RIGHTS = "侵害网络消费者合法权益"

#: area key -> (administrative division code, address prefix)
AREAS: dict[str, tuple[str, str]] = {
    "广州越秀": ("440104", "广东省广州市越秀区"),
    "晋江": ("350582", "福建省泉州市晋江市"),
    "杭州滨江": ("330108", "浙江省杭州市滨江区"),
    "昆明五华": ("530102", "云南省昆明市五华区"),
    "长沙岳麓": ("430104", "湖南省长沙市岳麓区"),
    "深圳福田": ("440304", "广东省深圳市福田区"),
    "中山": ("442000", "广东省中山市"),
    "南京秦淮": ("320104", "江苏省南京市秦淮区"),
    "浏阳": ("430181", "湖南省长沙市浏阳市"),
    "宁波鄞州": ("330212", "浙江省宁波市鄞州区"),
    "安溪": ("350524", "福建省泉州市安溪县"),
    "金华婺城": ("330702", "浙江省金华市婺城区"),
}

LICENCE_MODES = ("text", "image", "bad_text", "bad_image", "none")

STREETS = ("解放路", "湖滨南路", "江南大道", "环城西路", "五一大道", "华强北路", "兴中道", "中华路", "金沙大道",
           "天童南路", "茶都大道", "八一北街")


def shop(id: str, cat: str, name: str, operator: str, area: str, lic: str, intro: str, policy: str, notice: str, *,
         food: str | None = None, viol: tuple[list[str], list[str], str, str] | None = None,
         allow: list[str] | None = None) -> dict[str, Any]:
    """One shop's spec (the keys in the module doc); food, viol and allow only where given."""
    if area not in AREAS or lic not in LICENCE_MODES:
        raise ValueError(f"shop {id}: unknown area {area!r} or licence mode {lic!r}")
    spec: dict[str, Any] = {"id": id, "cat": cat, "name": name, "operator": operator, "area": area, "lic": lic,
                            "intro": intro, "policy": policy, "notice": notice}
    for key, value in (("food", food), ("viol", viol), ("allow", allow)):
        if value is not None:
            spec[key] = value
    return spec


SHOPS: list[dict[str, Any]] = [
    shop("501", "fushi", "潮衣研究所", "广州潮研服饰有限公司", "广州越秀", "text",
         "原创设计女装，每周上新，尺码齐全。", "支持七天无理由退换，吊牌未拆可退，质量问题来回运费由本店承担。", "春季新品陆续上架，收藏店铺可领满199减20优惠券。"),
    shop("502", "fushi", "鞋柜小站", "晋江市青阳步履鞋业商行", "晋江", "none",
         "运动鞋、休闲鞋、帆布鞋，工厂直发。", "七天无理由退货，鞋盒完好、鞋底无磨损即可。", "下单请核对鞋码，不确定尺码可咨询客服。",
         viol=([DISCLOSE], ["lic.missing"], "未展示营业执照", "资质页未上传营业执照，也未说明依法无需登记")),
    shop("503", "meizhuang", "花漾美妆", "杭州花漾化妆品有限公司", "杭州滨江", "image",
         "国货护肤彩妆集合店，所有商品均可在国家药监局化妆品备案信息中查询。", "未拆封商品支持七天无理由退货；已拆封的如有质量问题可联系客服处理。", "会员日每月8号，全场满99包邮。"),
    shop("504", "meizhuang", "本草悦颜", "昆明本草悦颜生物科技有限公司", "昆明五华", "bad_text",
         "云南植物护肤品，主打温和保湿。", "支持七天无理由退货，退货请附上订单号。", "新客首单立减5元。",
         viol=([DISCLOSE], ["lic.uscc-invalid"], "@uscc", "资质页公示的统一社会信用代码校验位错误")),
    shop("505", "shipin", "山野食铺", "长沙山野食品贸易有限公司", "长沙岳麓", "text",
         "湘味零食、腊味、坚果炒货，当天发货。", "食品类商品未拆封支持七天无理由退货，拆封后如有质量问题可退。", "天气炎热，巧克力类商品加冰袋发货。",
         food="JY"),
    shop("506", "shipin", "老陈卤味坊", "中山市石岐区老陈卤味店", "中山", "text",
         "现卤熟食，鸭脖鸭掌卤牛肉，真空包装全国发货。", "熟食类商品签收后请尽快冷藏，质量问题拍照联系客服处理。", "每日下午三点前下单当天发出。",
         viol=([NOFOOD], ["lic.food-missing"], "未展示食品经营许可证", "销售熟食卤味，资质页只有营业执照，无食品经营许可证")),
    shop("507", "shuma", "极客数码", "深圳极客时代电子有限公司", "深圳福田", "text",
         "手机配件、耳机、充电设备，正规渠道进货。", "支持七天无理由退货，十五天内质量问题换新。", "所有充电设备均有3C认证，认证编号见商品详情。",
         allow=["3C认证"]),
    shop("508", "shuma", "声浪电器", "中山市声浪电器有限公司", "中山", "bad_image",
         "小家电、蓝牙音箱，厂家自营。", "支持七天无理由退货，整机保修一年。", "节假日正常发货。",
         viol=([DISCLOSE], ["lic.uscc-invalid"], "@uscc", "营业执照图片上的统一社会信用代码校验位错误")),
    shop("509", "wenwan", "古韵轩", "南京古韵轩文化艺术品有限公司", "南京秦淮", "text",
         "文房四宝、手串、茶器与新工艺品，每件附材质说明。", "支持七天无理由退货，手工制品存在细微差异不属于质量问题。", "本店不收售任何受保护动植物制品。"),
    shop("510", "jieqing", "喜庆年货铺", "浏阳市喜庆节庆用品有限公司", "浏阳", "text",
         "春联、福字、灯笼、节庆装饰，年货一站购齐。", "支持七天无理由退货，定制春联除外。", "腊月二十后下单的，快递可能延迟。"),
    shop("511", "jiaju", "安居家居", "宁波安居家居用品有限公司", "宁波鄞州", "image",
         "收纳、厨具、床品，居家好物。", "支持七天无理由退货，大件商品退货运费按实际承担。", "满2件包邮，偏远地区除外。"),
    shop("512", "shipin", "茗香茶舍", "安溪县茗香茶业有限公司", "安溪", "text",
         "安溪铁观音、红茶、白茶，自有茶园。", "茶叶未拆封支持七天无理由退货。", "新茶上市，老客户回购享九折。",
         food="SC"),
    shop("513", "jiaju", "好物杂货铺", "金华市婺城区好物日用品商行", "金华婺城", "text",
         "日用百货，小商品批发零售。", "本店商品薄利多销，售出概不退换，请看清楚再拍。", "批发请联系客服报价。",
         viol=([RIGHTS], ["con.no-7day-return"], "售出概不退换", "店铺规则对普通商品一律不退")),
]
