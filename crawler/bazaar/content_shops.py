"""Shops of the bazaar (仿真集市) and what their qualification pages (资质/亮照) show.

Keys: id, cat (site category slug), name, operator (经营者 as registered), area (key of AREAS),
lic: how the qualification page shows the business licence --
  text (company and USCC as text), image (only a picture of the licence, drawn with Pillow),
  bad_text (USCC as text, wrong check character), bad_image (picture, wrong check character),
  none (the page says nothing was uploaded);
food: None | JY | SC (a food permit shown as text on the qualification page);
intro, policy, notice; viol: (categories, rule ids, evidence, why) when the shop violates;
allow: lawful phrases on the page that look like violations.
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

STREETS = ("解放路", "湖滨南路", "江南大道", "环城西路", "五一大道", "华强北路", "兴中道", "中华路", "金沙大道",
           "天童南路", "茶都大道", "八一北街")

SHOPS: list[dict[str, Any]] = [
    {"id": "501", "cat": "fushi", "name": "潮衣研究所", "operator": "广州潮研服饰有限公司", "area": "广州越秀", "lic": "text",
     "intro": "原创设计女装，每周上新，尺码齐全。",
     "policy": "支持七天无理由退换，吊牌未拆可退，质量问题来回运费由本店承担。",
     "notice": "春季新品陆续上架，收藏店铺可领满199减20优惠券。"},
    {"id": "502", "cat": "fushi", "name": "鞋柜小站", "operator": "晋江市青阳步履鞋业商行", "area": "晋江", "lic": "none",
     "intro": "运动鞋、休闲鞋、帆布鞋，工厂直发。",
     "policy": "七天无理由退货，鞋盒完好、鞋底无磨损即可。",
     "notice": "下单请核对鞋码，不确定尺码可咨询客服。",
     "viol": ([DISCLOSE], ["lic.missing"], "未展示营业执照", "资质页未上传营业执照，也未说明依法无需登记")},
    {"id": "503", "cat": "meizhuang", "name": "花漾美妆", "operator": "杭州花漾化妆品有限公司", "area": "杭州滨江", "lic": "image",
     "intro": "国货护肤彩妆集合店，所有商品均可在国家药监局化妆品备案信息中查询。",
     "policy": "未拆封商品支持七天无理由退货；已拆封的如有质量问题可联系客服处理。",
     "notice": "会员日每月8号，全场满99包邮。"},
    {"id": "504", "cat": "meizhuang", "name": "本草悦颜", "operator": "昆明本草悦颜生物科技有限公司", "area": "昆明五华", "lic": "bad_text",
     "intro": "云南植物护肤品，主打温和保湿。",
     "policy": "支持七天无理由退货，退货请附上订单号。",
     "notice": "新客首单立减5元。",
     "viol": ([DISCLOSE], ["lic.uscc-invalid"], "@uscc", "资质页公示的统一社会信用代码校验位错误")},
    {"id": "505", "cat": "shipin", "name": "山野食铺", "operator": "长沙山野食品贸易有限公司", "area": "长沙岳麓", "lic": "text", "food": "JY",
     "intro": "湘味零食、腊味、坚果炒货，当天发货。",
     "policy": "食品类商品未拆封支持七天无理由退货，拆封后如有质量问题可退。",
     "notice": "天气炎热，巧克力类商品加冰袋发货。"},
    {"id": "506", "cat": "shipin", "name": "老陈卤味坊", "operator": "中山市石岐区老陈卤味店", "area": "中山", "lic": "text",
     "intro": "现卤熟食，鸭脖鸭掌卤牛肉，真空包装全国发货。",
     "policy": "熟食类商品签收后请尽快冷藏，质量问题拍照联系客服处理。",
     "notice": "每日下午三点前下单当天发出。",
     "viol": ([NOFOOD], ["lic.food-missing"], "未展示食品经营许可证", "销售熟食卤味，资质页只有营业执照，无食品经营许可证")},
    {"id": "507", "cat": "shuma", "name": "极客数码", "operator": "深圳极客时代电子有限公司", "area": "深圳福田", "lic": "text",
     "intro": "手机配件、耳机、充电设备，正规渠道进货。",
     "policy": "支持七天无理由退货，十五天内质量问题换新。",
     "notice": "所有充电设备均有3C认证，认证编号见商品详情。",
     "allow": ["3C认证"]},
    {"id": "508", "cat": "shuma", "name": "声浪电器", "operator": "中山市声浪电器有限公司", "area": "中山", "lic": "bad_image",
     "intro": "小家电、蓝牙音箱，厂家自营。",
     "policy": "支持七天无理由退货，整机保修一年。",
     "notice": "节假日正常发货。",
     "viol": ([DISCLOSE], ["lic.uscc-invalid"], "@uscc", "营业执照图片上的统一社会信用代码校验位错误")},
    {"id": "509", "cat": "wenwan", "name": "古韵轩", "operator": "南京古韵轩文化艺术品有限公司", "area": "南京秦淮", "lic": "text",
     "intro": "文房四宝、手串、茶器与新工艺品，每件附材质说明。",
     "policy": "支持七天无理由退货，手工制品存在细微差异不属于质量问题。",
     "notice": "本店不收售任何受保护动植物制品。"},
    {"id": "510", "cat": "jieqing", "name": "喜庆年货铺", "operator": "浏阳市喜庆节庆用品有限公司", "area": "浏阳", "lic": "text",
     "intro": "春联、福字、灯笼、节庆装饰，年货一站购齐。",
     "policy": "支持七天无理由退货，定制春联除外。",
     "notice": "腊月二十后下单的，快递可能延迟。"},
    {"id": "511", "cat": "jiaju", "name": "安居家居", "operator": "宁波安居家居用品有限公司", "area": "宁波鄞州", "lic": "image",
     "intro": "收纳、厨具、床品，居家好物。",
     "policy": "支持七天无理由退货，大件商品退货运费按实际承担。",
     "notice": "满2件包邮，偏远地区除外。"},
    {"id": "512", "cat": "shipin", "name": "茗香茶舍", "operator": "安溪县茗香茶业有限公司", "area": "安溪", "lic": "text", "food": "SC",
     "intro": "安溪铁观音、红茶、白茶，自有茶园。",
     "policy": "茶叶未拆封支持七天无理由退货。",
     "notice": "新茶上市，老客户回购享九折。"},
    {"id": "513", "cat": "jiaju", "name": "好物杂货铺", "operator": "金华市婺城区好物日用品商行", "area": "金华婺城", "lic": "text",
     "intro": "日用百货，小商品批发零售。",
     "policy": "本店商品薄利多销，售出概不退换，请看清楚再拍。",
     "notice": "批发请联系客服报价。",
     "viol": ([RIGHTS], ["con.no-7day-return-shop"], "售出概不退换", "店铺规则对普通商品一律不退")},
]
