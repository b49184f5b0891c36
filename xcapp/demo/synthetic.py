"""Deterministic synthetic registries: demo data and benchmark datasets.

Pure Python (standard library and :mod:`xcapp.registry.validation` only): no
Flask, no database. Every function takes a ``seed`` and a ``today`` and returns
the same output for the same arguments on any machine, so a benchmark dataset
can be rebuilt instead of shipped.

* :func:`generate_enterprises` — 获证企业 rows for the 生产企业数据库, with the
  关键生产设备 of each one;
* :func:`generate_officers` — 执法人员 rows for the 抽查人员数据库.

Sizes in use: city 500 enterprises / 60 officers, province 20,000 / 2,000,
nation 150,000 / 15,000.

Rows are plain dicts; units and categories are given by code and name and the
caller maps them to database ids. Dates are :class:`datetime.date` objects.

Realism that the rest of the application may rely on:

* names, 统一社会信用代码, licence numbers and certificate numbers are unique
  within one call; every code passes its validator in
  :mod:`xcapp.registry.validation`;
* a few names always contain the rare characters 喆 堃 玥 (enterprises: in the
  字号 and the legal representative's name; officers: also 昇), because these
  break fonts, PDF output and GBK-only systems;
* no digit ever appears in a company or person name;
* about 5 % of licences have expired on ``today`` and about 5 % expire within
  90 days of it; a licence is valid for 5 years (有效期至 = 发证日期 + 5 年 − 1 天).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import gc
import random
import zlib
from bisect import bisect
from itertools import accumulate

from ..registry.validation import USCC_ALPHABET, make_uscc
from ..registry.vocab import LicenceState, ProductionState, RiskClass

__all__ = [
    "LICENCE_VALID_YEARS",
    "RARE_CHARS",
    "category_profile",
    "area_code_for_unit",
    "generate_enterprises",
    "generate_officers",
]

LICENCE_VALID_YEARS = 5
#: Characters outside GB 2312 that real registries contain (喆 堃 玥 昇 are in GBK only).
RARE_CHARS = ("喆", "堃", "玥", "昇")

DEFAULT_SEED = 20230701
CITY_AREA_CODE = "411000"


# ---------------------------------------------------------------------------
# Weighted choice
# ---------------------------------------------------------------------------

class _Picker:
    """Weighted choice with one ``rnd()`` call and a bisect (fast, stable).

    ``rnd`` is the bound ``random`` method of a :class:`random.Random`: calling
    it directly is several times faster than ``Random.choice``/``randrange``,
    which matters at 150,000 rows.
    """

    __slots__ = ("values", "cum", "total")

    def __init__(self, pairs):
        pairs = [(v, float(w)) for v, w in pairs if w > 0]
        if not pairs:
            raise ValueError("empty weighted choice")
        self.values = [v for v, _ in pairs]
        self.cum = list(accumulate(w for _, w in pairs))
        self.total = self.cum[-1]

    def __call__(self, rnd):
        i = bisect(self.cum, rnd() * self.total)
        return self.values[i if i < len(self.values) else -1]


def _pick(rnd, seq):
    """Uniform choice from a sequence with one ``rnd()`` call."""
    return seq[int(rnd() * len(seq))]


def _below(rnd, n: int) -> int:
    """Uniform integer in ``range(n)`` (n well below 2**53)."""
    return int(rnd() * n)


def _sample(rnd, seq, k: int) -> list:
    """``k`` distinct items of ``seq`` in random order (partial Fisher-Yates)."""
    items = list(seq)
    n = len(items)
    for i in range(k):
        j = i + int(rnd() * (n - i))
        items[i], items[j] = items[j], items[i]
    return items[:k]


# ---------------------------------------------------------------------------
# Person names
# ---------------------------------------------------------------------------

# Surnames in order of frequency, with rough national shares (per mille); Henan
# has slightly more 王/李/张/刘 than the national mix, which the weights reflect.
_SURNAMES = _Picker(zip(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔"
    "钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤",
    [80, 80, 76, 60, 45, 31, 20, 22, 17, 18, 14, 16, 15, 14, 14, 16, 12, 13, 10, 8,
     10, 8, 7, 9, 6, 9, 8, 8, 5, 7, 5, 4, 5, 6, 6, 5, 4, 5, 4, 4,
     4, 4, 3, 5, 3, 5, 4, 4, 4, 3, 3, 3, 3, 3, 2, 2, 2, 2, 3, 2,
     2, 2, 3, 2, 1, 2, 2, 2, 2, 3, 2, 2, 2, 2, 2, 2, 2, 3, 2, 2,
     2, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
))

_MALE_GIVEN = _Picker(
    [(c, 3) for c in "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆旭宁龙林阳建国志文海东峰亮新庆永晓振卫光成金"]
    + [(c, 2) for c in "红兵锋松涌彬毅坤晨睿博豪然泽航铭瑞琦翔鸿书德胜利民富贵中立春青山江河广全福德喜义"]
    + [(c, 0.15) for c in "喆堃昇"]
)
_FEMALE_GIVEN = _Picker(
    [(c, 3) for c in "芳娜敏静丽艳娟霞秀燕玲桂丹萍红英华梅琳雪慧莉婷倩颖洁佳晶欣悦"]
    + [(c, 2) for c in "琴兰凤云莹瑶璐露月婉宁楠彤怡雯蕾薇茜诗涵晓爱秋春玉珍荣"]
    + [(c, 0.15) for c in "玥"]
)


_FEMALE_RARE = "玥"


def _person_name(rnd, male_share: float, rare: str | None = None) -> str:
    surname = _SURNAMES(rnd)
    if rare is not None:
        male = rare not in _FEMALE_RARE
    else:
        male = rnd() < male_share
    pick = _MALE_GIVEN if male else _FEMALE_GIVEN
    if rare is not None:
        # The rare character is the whole given name or one of two characters.
        r = rnd()
        if r < 0.3:
            return surname + rare
        other = pick(rnd)
        while other == rare:
            other = pick(rnd)
        return surname + (rare + other if r < 0.65 else other + rare)
    if rnd() < 0.25:
        return surname + pick(rnd)
    a = pick(rnd)
    b = pick(rnd)
    while b == a:
        b = pick(rnd)
    return surname + a + b


# ---------------------------------------------------------------------------
# Phones
# ---------------------------------------------------------------------------

_MOBILE_PREFIXES = _Picker(
    [(p, 3) for p in ("134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159",
                      "182", "183", "187", "188")]
    + [(p, 2) for p in ("130", "131", "132", "155", "156", "185", "186", "176", "166")]
    + [(p, 1) for p in ("133", "153", "180", "181", "189", "177", "173", "191", "199", "198", "195", "178")]
)


def _mobile(rnd) -> str:
    return _MOBILE_PREFIXES(rnd) + "%08d" % _below(rnd, 100_000_000)


def _landline(rnd) -> str:
    # Xuchang (0374) has 7-digit local numbers; they never start with 0 or 1.
    return "0374-%d%06d" % (2 + _below(rnd, 7), _below(rnd, 1_000_000))


# ---------------------------------------------------------------------------
# Units: weights, place names, addresses
# ---------------------------------------------------------------------------

# Share of licence holders per unit (禹州 and 长葛 have most of the industry:
# cement, chemicals, steel recycling, cables).
_ENTERPRISE_UNIT_WEIGHTS = {
    "411000": 0.5, "411002": 7, "411003": 12, "411081": 24, "411082": 22,
    "411024": 8, "411025": 12, "411071": 6, "411072": 3, "411073": 4,
}
_OFFICER_UNIT_WEIGHTS = {
    "411000": 12, "411002": 10, "411003": 10, "411081": 15, "411082": 14,
    "411024": 8, "411025": 10, "411071": 6, "411072": 5, "411073": 5,
}

# unit code → (name prefixes with weights, county-level place, roads, towns/parks)
_PLACES = {
    "411002": ([("许昌", 6), ("许昌市", 3), ("河南", 1)], "许昌市魏都区",
               ["八一路", "七一路", "文峰路", "劳动路", "前进路", "建设路", "北海路", "南关大街", "魏文路", "许继大道"],
               ["高桥营街道", "西关街道", "丁庄街道", "半截河街道"]),
    "411003": ([("许昌", 6), ("许昌市", 2), ("河南", 1)], "许昌市建安区",
               ["许由路", "新元大道", "昌盛路", "建安大道", "长村张路"],
               ["尚集镇", "将官池镇", "张潘镇", "小召乡", "椹涧乡", "苏桥镇", "灵井镇", "产业集聚区"]),
    "411081": ([("禹州市", 6), ("禹州", 3), ("河南", 1)], "禹州市",
               ["颍川大道", "药城路", "禹王大道", "钧官窑路", "滨河大道", "阳翟大道", "府东路"],
               ["神垕镇", "火龙镇", "鸿畅镇", "方山镇", "顺店镇", "褚河镇", "梁北镇", "古城镇", "产业集聚区"]),
    "411082": ([("长葛市", 6), ("长葛", 3), ("河南", 1)], "长葛市",
               ["长社路", "葛天大道", "人民路", "钟繇大道", "新区大道", "黄河路"],
               ["大周镇", "后河镇", "石固镇", "和尚桥镇", "坡胡镇", "董村镇", "增福镇", "产业集聚区"]),
    "411024": ([("鄢陵县", 6), ("鄢陵", 3), ("许昌", 1)], "鄢陵县",
               ["花都大道", "人民路", "金汇大道", "安陵大道"],
               ["陈化店镇", "柏梁镇", "马栏镇", "彭店镇", "望田镇", "产业集聚区"]),
    "411025": ([("襄城县", 6), ("襄城", 3), ("河南", 1)], "襄城县",
               ["紫云大道", "文昌路", "八七路", "襄北大道"],
               ["库庄镇", "王洛镇", "湛北乡", "汾陈镇", "麦岭镇", "紫云镇", "循环经济产业集聚区"]),
    "411071": ([("许昌", 7), ("许昌市", 2), ("河南", 1)], "许昌市经济技术开发区",
               ["瑞祥路", "阳光大道", "魏武大道", "延安路", "长葛路", "新兴路"],
               ["长村张乡", "电力装备产业园"]),
    "411072": ([("许昌", 7), ("许昌市", 2), ("河南", 1)], "许昌市东城区",
               ["永昌大道", "学院路", "中原大道", "龙湖路", "瑞祥路"],
               ["祖师街道", "科技园"]),
    "411073": ([("许昌", 7), ("许昌市", 2), ("河南", 1)], "许昌市城乡一体化示范区",
               ["芙蓉大道", "学府路", "魏武大道", "昌盛路", "祥瑞路"],
               ["尚集镇", "产业园"]),
}
_DEFAULT_PLACE = ([("许昌", 7), ("许昌市", 2), ("河南", 1)], "许昌市",
                  ["建设路", "八一路", "许继大道", "魏武大道", "中原大道"],
                  ["产业集聚区"])
_ROAD_PARTS = ("", "", "东段", "西段", "南段", "北段", "中段")


def area_code_for_unit(code: str) -> str:
    """The 登记管理机关行政区划码 used in chars 3-8 of a generated USCC.

    County-level units use their GB/T 2260 code; the city bureau's direct
    branches (internal codes 4110 7x, no division of their own) and unknown
    codes register under the city, 411000.
    """
    code = str(code)
    if len(code) == 6 and code.isdigit() and code[4] != "7":
        return code
    if len(code) == 6 and code.isdigit():
        return code[:4] + "00"
    return CITY_AREA_CODE


def _cert_unit_digits(code: str) -> str:
    code = str(code)
    if len(code) >= 2 and code[-2:].isdigit():
        return code[-2:]
    return "%02d" % (zlib.crc32(code.encode("utf-8")) % 100)


class _UnitInfo:
    __slots__ = ("code", "prefix", "county", "roads", "towns", "area")

    def __init__(self, code: str):
        prefixes, county, roads, towns = _PLACES.get(code, _DEFAULT_PLACE)
        self.code = code
        self.prefix = _Picker(prefixes)
        self.county = county
        self.roads = roads
        self.towns = towns
        self.area = area_code_for_unit(code)

    def address(self, rnd) -> str:
        r = rnd()
        if r < 0.55:
            return "河南省%s%s%s%d号" % (self.county, _pick(rnd, self.roads), _pick(rnd, _ROAD_PARTS),
                                     1 + _below(rnd, 1999))
        town = _pick(rnd, self.towns)
        if town.endswith(("镇", "乡", "街道")):
            if rnd() < 0.5:
                return "河南省%s%s%s村" % (self.county, town, _pick(rnd, _VILLAGES))
            return "河南省%s%s%s%d号" % (self.county, town, _pick(rnd, self.roads), 1 + _below(rnd, 599))
        return "河南省%s%s%s%d号" % (self.county, town, _pick(rnd, self.roads), 1 + _below(rnd, 799))


# Village names: 东庄, 大营, 张楼, 许店 ...
_VILLAGES = tuple(a + b for a in "东西南北前后大小" for b in "庄营寨店岗桥湾") + tuple(
    a + b for a in "张王李刘陈杨赵孙马朱郭高周许韩" for b in "庄营楼寨岗店")


# ---------------------------------------------------------------------------
# Product categories
# ---------------------------------------------------------------------------

class _Profile:
    """What a category looks like: licence code, product units, names, equipment."""

    __slots__ = ("key", "code", "weight", "units", "industry", "equipment")

    def __init__(self, key, code, weight, units, industry, equipment):
        self.key = key
        self.code = code          # 2-digit XK code
        self.weight = weight      # relative share of licence holders
        self.units = units        # [(3-digit product unit, scope text)]
        self.industry = industry  # [(industry word in the company name, weight)]
        self.equipment = equipment  # [(name, [models], (min qty, max qty))]


_PROFILES = {
    "food": _Profile(
        "food", "16", 30,
        [("201", "食品用塑料包装容器工具制品（非复合膜袋）"), ("202", "食品用塑料包装容器工具制品（复合膜袋）"),
         ("203", "食品用塑料包装容器工具制品（片材）"), ("204", "食品用塑料包装容器工具制品（编织袋）"),
         ("205", "食品用塑料包装容器工具制品（容器）"), ("206", "食品用塑料包装容器工具制品（工具）"),
         ("301", "食品用纸包装、容器等制品（食品用纸包装）"), ("302", "食品用纸包装、容器等制品（食品用纸容器）"),
         ("101", "餐具洗涤剂")],
        [("塑料包装", 5), ("塑业", 4), ("包装材料", 3), ("塑料制品", 4), ("彩印包装", 2), ("纸制品", 2),
         ("纸业", 1), ("日用化工", 1), ("包装制品", 2)],
        [("吹膜机", ["SJ-55×1000", "SJ-65×1200", "SJ-45×800"], (1, 6)),
         ("制袋机", ["RFQ-800", "DFR-1000", "GDFQ-600"], (1, 8)),
         ("凹版印刷机", ["AY-800型八色", "ASY-1000型六色", "GWASY-B 1000"], (1, 2)),
         ("干式复合机", ["GF-1000", "GSFH-1100"], (1, 2)),
         ("分切机", ["FQ-1300", "WFQ-1100"], (1, 3)),
         ("注塑机", ["HTF200W1", "HTF160X", "MA2500"], (1, 6)),
         ("片材挤出机组", ["SJ-120", "SJ-90×30"], (1, 2)),
         ("纸杯成型机", ["ZBJ-LII", "DEBAO-118S"], (1, 4)),
         ("热封试验仪", ["HST-H3", "RFY-03"], (1, 1)),
         ("拉力试验机", ["XLW-500N", "WDW-2"], (1, 1))],
    ),
    "hazchem": _Profile(
        "hazchem", "13", 17,
        [("001", "危险化学品有机产品（甲醇）"), ("002", "危险化学品有机产品（粗苯、煤焦油）"),
         ("003", "危险化学品无机产品（硫酸、盐酸）"), ("004", "氯碱（氢氧化钠、液氯）"),
         ("005", "工业气体（氧、氮、氩）"), ("006", "溶剂型涂料"), ("007", "危险化学品有机产品（乙醇、乙酸乙酯）"),
         ("008", "危险化学品无机产品（过氧化氢）")],
        [("化工", 6), ("煤化工", 2), ("化学", 2), ("精细化工", 2), ("气体", 2), ("涂料", 2), ("新材料", 1)],
        [("反应釜", ["5000L", "K-3000L 搪瓷", "10m³ 不锈钢", "2000L"], (2, 12)),
         ("精馏塔", ["DN1200", "DN800", "DN1600×32m"], (1, 4)),
         ("列管式换热器", ["F=120m²", "F=80m²"], (2, 10)),
         ("立式储罐", ["200m³", "500m³", "100m³"], (2, 8)),
         ("卧螺离心机", ["LW-450", "LW-520"], (1, 3)),
         ("空分装置", ["KDON-1000/1000", "KDONAr-3000"], (1, 1)),
         ("冷凝器", ["F=60m²", "F=40m²"], (2, 6)),
         ("气相色谱仪", ["GC-9790II", "GC-2014"], (1, 2))],
    ),
    "hazpack": _Profile(
        "hazpack", "12", 7,
        [("001", "危险化学品包装物（闭口钢桶）"), ("002", "危险化学品包装物（开口钢桶）"),
         ("003", "危险化学品包装物（闭口塑料桶）"), ("004", "危险化学品包装物（塑料编织袋）"),
         ("005", "危险化学品包装物（复合中型散装容器）")],
        [("包装容器", 4), ("制桶", 3), ("包装制品", 2), ("塑料包装", 2)],
        [("钢桶生产线", ["200L 闭口钢桶", "200L 开口钢桶"], (1, 2)),
         ("卷边封口机", ["FB-200", "JB-208"], (1, 3)),
         ("缝焊机", ["FN-100", "FN2-150"], (1, 3)),
         ("中空吹塑成型机", ["HBD-200L", "BLM-60L", "SCJ-1000L"], (1, 4)),
         ("气密试验机", ["QMS-200", "QM-30"], (1, 1)),
         ("液压试验机", ["YS-250", "YSJ-2"], (1, 1)),
         ("跌落试验机", ["DLJ-200", "DL-100"], (1, 1))],
    ),
    "cable": _Profile(
        "cable", "06", 15,
        [("001", "架空绞线"), ("002", "塑料绝缘控制电缆"), ("003", "挤包绝缘低压电力电缆"),
         ("004", "挤包绝缘中压电力电缆"), ("005", "额定电压450/750V及以下聚氯乙烯绝缘电线电缆"),
         ("006", "额定电压450/750V及以下橡皮绝缘电线电缆"), ("007", "矿用电缆")],
        [("电缆", 6), ("线缆", 4), ("电线电缆", 3), ("电工", 1), ("电力器材", 1)],
        [("拉丝机", ["LHD-450/13", "LH-250/17", "LT-400/13"], (1, 6)),
         ("绞线机", ["JLK-630/6+12+18", "JLY-500/6+12+18", "JGG-500/6+12"], (1, 4)),
         ("挤塑机", ["SJ-90", "SJ-120", "SJ-70", "SJ-150"], (1, 5)),
         ("成缆机", ["CL-1600/1+3", "CLY-1250/1+4"], (1, 2)),
         ("火花试验机", ["HTH-15", "DLH-15KV"], (1, 4)),
         ("退火炉", ["RJ-90", "RJ-75"], (1, 2)),
         ("直流双臂电桥", ["QJ57", "QJ44"], (1, 2)),
         ("交联生产线", ["VCV-35kV", "CCV-35kV"], (1, 1))],
    ),
    "cement": _Profile(
        "cement", "08", 7,
        [("001", "通用硅酸盐水泥"), ("002", "硅酸盐水泥熟料"), ("003", "砌筑水泥"), ("004", "道路硅酸盐水泥")],
        [("水泥", 7), ("建材", 3), ("水泥制品", 1)],
        [("回转窑", ["Φ4.0×60m", "Φ4.8×72m", "Φ3.5×54m"], (1, 2)),
         ("立磨", ["TRM45.4", "HRM4800", "MLS4531"], (1, 2)),
         ("水泥磨", ["Φ4.2×13m", "Φ3.8×13m", "Φ3.2×13m"], (1, 4)),
         ("辊压机", ["HFCG160-140", "RP170-140"], (1, 2)),
         ("篦冷机", ["TCFC3000", "LBTF2500"], (1, 1)),
         ("回转式包装机", ["BHYW-8", "BHYW-6"], (1, 3)),
         ("X荧光分析仪", ["ZSX Primus II", "BRUKER S8"], (1, 1)),
         ("压力试验机", ["YAW-300B", "TYE-300D"], (1, 2))],
    ),
    "fertiliser": _Profile(
        "fertiliser", "13", 9,
        [("014", "复混肥料（复合肥料）"), ("015", "掺混肥料"), ("016", "有机-无机复混肥料")],
        [("肥业", 5), ("化肥", 3), ("复合肥", 2), ("生物科技", 2), ("农资", 1)],
        [("转鼓造粒机", ["Φ2.2×8m", "Φ2.4×9m", "Φ3.2m 圆盘"], (1, 2)),
         ("烘干机", ["Φ2.2×20m", "Φ2.4×22m"], (1, 2)),
         ("冷却机", ["Φ2.0×20m", "Φ2.2×22m"], (1, 2)),
         ("滚筒筛分机", ["Φ1.8×6m", "Φ1.5×5m"], (1, 3)),
         ("包膜机", ["Φ1.5×6m", "Φ1.2×5m"], (1, 1)),
         ("自动包装秤", ["DCS-50", "DCS-50S"], (1, 3)),
         ("自动配料系统", ["PLC 六仓", "PLC 八仓"], (1, 1)),
         ("定氮仪", ["KDN-08C", "K9840"], (1, 1))],
    ),
    "rebar": _Profile(
        "rebar", "05", 4,
        [("001", "热轧带肋钢筋"), ("002", "热轧光圆钢筋"), ("003", "冷轧带肋钢筋")],
        [("钢铁", 4), ("钢业", 3), ("特钢", 1), ("金属材料", 1)],
        [("粗轧机组", ["Φ550×2", "Φ610×4"], (1, 1)),
         ("中轧机组", ["Φ450×6", "Φ480×6"], (1, 1)),
         ("精轧机组", ["Φ350×6", "Φ380×6"], (1, 1)),
         ("步进式加热炉", ["蓄热式 60t/h", "蓄热式 120t/h"], (1, 2)),
         ("齿条式冷床", ["96m×10m", "120m×12m"], (1, 1)),
         ("飞剪", ["曲柄式 1#", "回转式 2#"], (1, 3)),
         ("冷剪机", ["600t", "850t"], (1, 1)),
         ("万能试验机", ["WAW-1000B", "WE-600B"], (1, 2))],
    ),
    "currency": _Profile(
        "currency", "21", 2,
        [("001", "人民币鉴别仪（点验钞机）"), ("002", "人民币鉴别仪（纸币清分机）"), ("003", "人民币鉴别仪（A类）")],
        [("金融设备", 4), ("电子科技", 3), ("机电", 1)],
        [("贴片机", ["YSM20", "NPM-W2"], (1, 3)),
         ("回流焊", ["RF-8000", "KTE-1000"], (1, 2)),
         ("波峰焊", ["WS-350", "NS-300"], (1, 1)),
         ("鉴伪性能测试装置", ["JWC-2020", "JW-300"], (1, 2)),
         ("老化试验箱", ["LH-1000", "HT-800"], (1, 2)),
         ("整机测试台", ["自制", "TS-02"], (1, 4))],
    ),
    "broadcast": _Profile(
        "broadcast", "09", 2,
        [("001", "有线电视光发射机"), ("002", "卫星电视广播地面接收设备"), ("003", "广播电视发射机")],
        [("电子", 4), ("通信设备", 2), ("广电科技", 1)],
        [("贴片机", ["YSM20", "NPM-W2"], (1, 3)),
         ("回流焊", ["RF-8000", "KTE-1000"], (1, 2)),
         ("网络分析仪", ["E5071C", "ZNB8"], (1, 2)),
         ("频谱分析仪", ["N9020A", "FSV3013"], (1, 2)),
         ("光功率计", ["AV6334", "JW3208"], (1, 3)),
         ("老化试验箱", ["LH-1000", "HT-800"], (1, 2))],
    ),
    "beam": _Profile(
        "beam", "23", 0.5,
        [("001", "预应力混凝土铁路桥简支梁（后张法）"), ("002", "预应力混凝土铁路桥简支梁（先张法）")],
        [("桥梁", 3), ("铁路桥梁", 2), ("混凝土制品", 1)],
        [("门式起重机", ["MG80t-35m", "MG100t-40m"], (2, 6)),
         ("预应力张拉设备", ["YDC2500", "YCW400B"], (2, 8)),
         ("混凝土搅拌站", ["HZS120", "HZS180"], (1, 2)),
         ("液压整体式模板", ["32m 箱梁", "24m 箱梁"], (2, 6)),
         ("智能压浆台车", ["ZNYJ-2", "SJY-3"], (1, 3)),
         ("提梁机", ["900t", "450t"], (1, 2))],
    ),
}

_GENERIC_INDUSTRY = [("实业", 3), ("科技", 2), ("工贸", 1), ("制品", 1)]
_GENERIC_EQUIPMENT = [("生产线", ["自动化 A 线", "B 线"], (1, 3)), ("成型机", ["CX-200", "CX-500"], (1, 4)),
                      ("包装机", ["BZ-50", "BZ-100"], (1, 2)), ("检验设备", ["JY-01", "JY-02"], (1, 2)),
                      ("烘干设备", ["HG-300", "HG-500"], (1, 2)), ("搅拌机", ["JB-1000", "JB-2000"], (1, 3))]

# Order matters: the first keyword found in a category name wins.
_KEYWORDS = (
    ("危险化学品包装", "hazpack"), ("危化品包装", "hazpack"), ("包装物", "hazpack"),
    ("危险化学品", "hazchem"), ("危化", "hazchem"),
    ("食品", "food"), ("水泥", "cement"), ("电线", "cable"), ("电缆", "cable"),
    ("化肥", "fertiliser"), ("复肥", "fertiliser"), ("肥料", "fertiliser"),
    ("钢筋", "rebar"), ("鉴别仪", "currency"), ("人民币", "currency"),
    ("广播", "broadcast"), ("简支梁", "beam"), ("铁路桥", "beam"),
)


def category_profile(name: str) -> _Profile:
    """The profile for a category name (matched by keyword; editable names keep working).

    Unknown categories get a generic profile whose XK code (30-99) is derived
    from the name, so it is stable.
    """
    for kw, key in _KEYWORDS:
        if kw in name:
            return _PROFILES[key]
    code = "%02d" % (30 + zlib.crc32(name.encode("utf-8")) % 70)
    return _Profile("generic", code, 2, [("001", name)], _GENERIC_INDUSTRY, _GENERIC_EQUIPMENT)


# ---------------------------------------------------------------------------
# Company names
# ---------------------------------------------------------------------------

_TRADE_NAMES = (
    "宏达 鑫源 恒通 瑞丰 华锐 中原 豫龙 金石 天成 永盛 兴达 新宇 华鑫 长城 远大 恒信 金鼎 盛世 宏远 鑫泰 "
    "博源 嘉诚 润丰 汇通 隆昌 昌盛 瑞祥 通达 万通 华联 金源 东方 亿通 凯达 腾飞 旭日 辉煌 明珠 正大 合力 "
    "益民 宇航 晟通 鼎盛 聚源 邦达 诚信 森源 阳光 力源 众鑫 康达 健丰 立信 元通 万隆 长青 顺达 和信 福瑞 "
    "汇丰 强盛 伟业 广源 科达 航宇 铭泰 锦程 卓越 恒达 华阳 金泰 天宇 鸿运 鑫隆 中鼎 豫鑫 钧达 葛天 "
    "颍川 春秋 魏都 三国 曹魏 黄河 嵩山 伏牛 中豫 豫港 瑞能 凯丰 永昌 鸿基 华兴 新源 佳和 建华 信达 安泰"
).split()
_TRADE_FIRST = "宏鑫恒瑞华金盛兴泰祥丰源达通利隆昌润德信嘉佳创远新安永天海博豫中东亿久凯腾旭辉光明正合益宇晟鼎聚邦诚森阳力众康健立元万长顺和福汇强伟广科航铭锦卓"
_TRADE_SECOND = "达源通丰锐原龙石成盛宇鑫远信鼎泰昌祥顺利隆发兴华安康德诚业邦辉光明阳海峰凯瑞润博创合力新强广宏嘉"
_SUFFIXES = _Picker([("有限公司", 75), ("有限责任公司", 17), ("股份有限公司", 8)])
_USCC_KIND = _Picker([("91", 97.5), ("92", 2), ("93", 0.5)])
_KIND_SUFFIX = {"92": "厂", "93": "专业合作社"}


def _trade_name(rnd) -> str:
    if rnd() < 0.45:
        return _pick(rnd, _TRADE_NAMES)
    a = _pick(rnd, _TRADE_FIRST)
    b = _pick(rnd, _TRADE_SECOND)
    while b == a:
        b = _pick(rnd, _TRADE_SECOND)
    return a + b


def _rare_trade_name(rnd, rare: str) -> str:
    other = _pick(rnd, _TRADE_SECOND if rnd() < 0.5 else _TRADE_FIRST)
    return rare + other if rnd() < 0.5 else other + rare


# ---------------------------------------------------------------------------
# Organisation code (chars 9-17 of the USCC)
# ---------------------------------------------------------------------------

_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY_CHARS = USCC_ALPHABET  # letters I O S V Z are never used
_ORG_VALUE = {c: (int(c) if c.isdigit() else ord(c) - 55) for c in _ORG_BODY_CHARS}


def _org_check(body: str) -> str:
    """GB 11714 check character of an 8-character organisation code body."""
    v = 11 - sum(_ORG_VALUE[c] * w for c, w in zip(body, _ORG_WEIGHTS)) % 11
    return "X" if v == 10 else ("0" if v == 11 else str(v))


def _org_code(rnd) -> str:
    if rnd() < 0.6:
        # Codes assigned with the USCC since 2015: "MA" + 6 characters.
        x = _below(rnd, 31 ** 6)
        chars = []
        for _ in range(6):
            x, r = divmod(x, 31)
            chars.append(_ORG_BODY_CHARS[r])
        body = "MA" + "".join(chars)
    else:
        # Older organisation codes, carried into the USCC: 8 digits.
        body = "%08d" % (10_000_000 + _below(rnd, 90_000_000))
    return body + _org_check(body)


# ---------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------

def _add_years(d: _dt.date, years: int) -> _dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def _expiry_from_issue(issue: _dt.date) -> _dt.date:
    """有效期至 = 发证日期 + 5 年 − 1 天."""
    return _add_years(issue, LICENCE_VALID_YEARS) - _dt.timedelta(days=1)


def _issue_from_expiry(expiry: _dt.date) -> _dt.date:
    """有效期至 = 发证日期 + 5 年 − 1 天, solved for 发证日期."""
    return _add_years(expiry + _dt.timedelta(days=1), -LICENCE_VALID_YEARS)


# ---------------------------------------------------------------------------
# Common helpers
# ---------------------------------------------------------------------------

@contextlib.contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector while building many small dicts.

    The rows contain no reference cycles; without this, repeated full
    collections cost about a fifth of the time at 150,000 rows. The previous
    state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check_inputs(n: int, units, categories=None) -> None:
    if n < 0:
        raise ValueError("n must be >= 0")
    if not units:
        raise ValueError("units must not be empty")
    if categories is not None and not categories:
        raise ValueError("categories must not be empty")


def _spread(rng: random.Random, n: int, values: list, picker: _Picker) -> list:
    """n values: each of ``values`` at least once (when n allows), the rest weighted, shuffled."""
    out = list(values[:n])
    rnd = rng.random
    out.extend(picker(rnd) for _ in range(n - len(out)))
    rng.shuffle(out)
    return out


def _rare_slots(rng: random.Random, n: int, minimum: int, per: int) -> dict[int, str]:
    """Row index → rare character for a deterministic few rows."""
    count = min(n, max(minimum, n // per))
    rows = rng.sample(range(n), count) if count else []
    return {row: RARE_CHARS[k % minimum] for k, row in enumerate(rows)}


# ---------------------------------------------------------------------------
# Enterprises
# ---------------------------------------------------------------------------

# Shares of each value (plain strings, as the files the generator writes hold them).
_RISK = _Picker((r.value, w) for r, w in zip(RiskClass, (40, 35, 17, 8), strict=True))
_PRODUCTION = _Picker((s.value, w) for s, w in zip(ProductionState, (94, 4, 2), strict=True))
_LICENCE_STATE = _Picker((s.value, w) for s, w in zip(LicenceState, (98.8, 0.6, 0.35, 0.25), strict=True))


@_gc_paused()
def generate_enterprises(n: int, units: list[str], categories: list[str], seed: int = DEFAULT_SEED,
                         today: _dt.date | None = None) -> list[dict]:
    """Generate ``n`` licence holders spread over ``units`` (codes) and ``categories`` (names).

    Keys of each row: name, uscc, address, production_address, legal_rep,
    contact, phone, licence_no, issue_date, expiry_date, category, product_scope,
    unit, risk, production_state, licence_state, equipment (list of
    ``{"name", "model", "quantity"}``).

    Deterministic for given arguments; ``today`` defaults to the current date,
    so pass it explicitly when the output must be reproducible.
    """
    _check_inputs(n, units, categories)
    today = today or _dt.date.today()
    rng = random.Random(seed)
    rnd = rng.random

    unit_codes = [str(u) for u in units]
    unit_info = {c: _UnitInfo(c) for c in unit_codes}
    unit_pick = _Picker((c, _ENTERPRISE_UNIT_WEIGHTS.get(c, 5)) for c in unit_codes)
    cat_names = list(categories)
    profiles = {c: category_profile(c) for c in cat_names}
    cat_pick = _Picker((c, profiles[c].weight) for c in cat_names)
    industry_pick = {c: _Picker(profiles[c].industry) for c in cat_names}

    unit_col = _spread(rng, n, unit_codes, unit_pick)
    cat_col = _spread(rng, n, cat_names, cat_pick)
    rare = _rare_slots(rng, n, 3, 500)

    # Licence validity: ~5 % expired (up to two years ago), ~5 % expiring within
    # 90 days, the rest spread over the remaining five-year window.
    expired_lo = -730
    soon_hi = 90
    valid_span = LICENCE_VALID_YEARS * 365 - 1 - soon_hi
    day = _dt.timedelta

    names: set[str] = set()
    usccs: set[str] = set()
    serials: dict[str, int] = {}
    out: list[dict] = []
    for i in range(n):
        unit = unit_col[i]
        info = unit_info[unit]
        cat = cat_col[i]
        prof = profiles[cat]
        rare_char = rare.get(i)

        kind = _USCC_KIND(rnd)
        # Name: place + 字号 + industry word + suffix, unique.
        suffix = _KIND_SUFFIX.get(kind) or _SUFFIXES(rnd)
        industry = industry_pick[cat](rnd)
        prefix = info.prefix(rnd)
        attempt = 0
        while True:
            if rare_char is not None:
                trade = _rare_trade_name(rnd, rare_char)
            elif attempt < 12:
                trade = _trade_name(rnd)
            elif attempt < 24:
                trade = "新" + _trade_name(rnd)
            else:
                trade = _trade_name(rnd) + _pick(rnd, _TRADE_SECOND)
            name = prefix + trade + industry + suffix
            if name not in names:
                break
            attempt += 1
            if attempt % 4 == 0:
                suffix = _KIND_SUFFIX.get(kind) or _SUFFIXES(rnd)
                industry = industry_pick[cat](rnd)
        names.add(name)

        while True:
            uscc = make_uscc(kind + info.area + _org_code(rnd))
            if uscc not in usccs:
                break
        usccs.add(uscc)

        punit, scope = prof.units[_below(rnd, len(prof.units))]
        if len(prof.units) > 1 and rnd() < 0.35:
            _, s2 = prof.units[_below(rnd, len(prof.units))]
            if s2 != scope:
                scope = scope + "；" + s2
        key = prof.code + "-" + punit
        serial = serials.get(key, 0) + 1
        if serial > 99_999:  # overflow of one product unit: continue in a spare unit
            key = prof.code + "-9%02d" % (zlib.crc32(key.encode()) % 100)
            serial = serials.get(key, 0) + 1
        serials[key] = serial
        licence_no = "豫XK%s-%05d" % (key, serial)

        r = rnd()
        if r < 0.05:
            expiry = today + day(expired_lo + _below(rnd, -expired_lo))
        elif r < 0.10:
            expiry = today + day(_below(rnd, soon_hi))
        else:
            expiry = today + day(soon_hi + _below(rnd, valid_span))
        issue = _issue_from_expiry(expiry)
        expiry = _expiry_from_issue(issue)  # differs by a day only around 29 February

        address = info.address(rnd)
        production_address = address if rnd() < 0.65 else info.address(rnd)
        legal_rep = _person_name(rnd, 0.82, rare_char)
        contact = legal_rep if rnd() < 0.35 else _person_name(rnd, 0.55)
        phone = _mobile(rnd) if rnd() < 0.65 else _landline(rnd)

        pool = prof.equipment
        k = min(len(pool), 2 + _below(rnd, 5))
        equipment = []
        for ename, models, (lo, hi) in _sample(rnd, pool, k):
            equipment.append({"name": ename, "model": _pick(rnd, models), "quantity": lo + _below(rnd, hi - lo + 1)})

        out.append({
            "name": name,
            "uscc": uscc,
            "address": address,
            "production_address": production_address,
            "legal_rep": legal_rep,
            "contact": contact,
            "phone": phone,
            "licence_no": licence_no,
            "issue_date": issue,
            "expiry_date": expiry,
            "category": cat,
            "product_scope": scope,
            "unit": unit,
            "risk": _RISK(rnd),
            "production_state": _PRODUCTION(rnd),
            "licence_state": _LICENCE_STATE(rnd),
            "equipment": equipment,
        })
    return out


# ---------------------------------------------------------------------------
# Officers
# ---------------------------------------------------------------------------

_POSITIONS = _Picker([
    ("科员", 24), ("一级科员", 12), ("四级主任科员", 8), ("三级主任科员", 5), ("一级主办", 6), ("二级主办", 5),
    ("副科长", 12), ("科长", 8), ("副所长", 8), ("所长", 5), ("副局长", 4), ("执法队长", 3),
])


@_gc_paused()
def generate_officers(n: int, units: list[str], categories: list[str], seed: int = DEFAULT_SEED,
                      today: _dt.date | None = None) -> list[dict]:
    """Generate ``n`` enforcement officers spread over ``units`` (codes).

    Keys of each row: name, unit, position, phone, cert_no (``豫许执`` + two
    digits from the unit code + serial, unique), cert_expiry, active,
    specialty (a category name or ``None``).

    Every unit gets at least two officers when ``n`` allows (an inspection needs
    two). Names are unique within one call. About 5 % are inactive; about 3 %
    of certificates have expired and about 4 % expire before 31 October (the
    inspection deadline), the rest 2 to 5 years ahead.
    """
    _check_inputs(n, units)
    today = today or _dt.date.today()
    rng = random.Random(seed)
    rnd = rng.random

    unit_codes = [str(u) for u in units]
    unit_pick = _Picker((c, _OFFICER_UNIT_WEIGHTS.get(c, 8)) for c in unit_codes)
    unit_col = _spread(rng, n, unit_codes * 2, unit_pick)
    cat_names = list(categories or [])
    rare = _rare_slots(rng, n, 4, 250)

    deadline = _dt.date(today.year, 10, 31)
    days_to_deadline = (deadline - today).days
    if days_to_deadline < 2:  # after the inspection season: "expiring soon" = within 90 days
        days_to_deadline = 90

    width = 3 if n <= 999 else 5
    serials: dict[str, int] = {}
    names: set[str] = set()
    out: list[dict] = []
    day = _dt.timedelta
    for i in range(n):
        unit = unit_col[i]
        rare_char = rare.get(i)
        for _ in range(60):  # names stay unique; a duplicate only after 60 misses
            name = _person_name(rnd, 0.65, rare_char)
            if name not in names:
                break
        names.add(name)

        prefix = "豫许执" + _cert_unit_digits(unit)
        serial = serials.get(prefix, 0) + 1
        serials[prefix] = serial
        cert_no = prefix + str(serial).zfill(width)

        r = rnd()
        if r < 0.03:
            cert_expiry = today - day(1 + _below(rnd, 364))
        elif r < 0.07:
            cert_expiry = today + day(_below(rnd, days_to_deadline))
        else:
            cert_expiry = today + day(2 * 365 + _below(rnd, 3 * 365 + 1))

        specialty = None
        if cat_names and rnd() < 0.7:
            specialty = cat_names[_below(rnd, len(cat_names))]

        out.append({
            "name": name,
            "unit": unit,
            "position": _POSITIONS(rnd),
            "phone": _mobile(rnd),
            "cert_no": cert_no,
            "cert_expiry": cert_expiry,
            "active": rnd() >= 0.05,
            "specialty": specialty,
        })
    return out
