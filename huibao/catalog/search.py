"""Chinese product search over the on-sale catalog.

Design: one in-memory index per process, built from the database and rebuilt when the catalog
changes. Products are few (about a thousand) and change rarely, so holding a compact record per
product plus an inverted index costs a few megabytes and answers a query in about a millisecond;
only the requested page of `Product` rows is then loaded from the database.

- Text is segmented with jieba (search mode, so "百万医疗" also yields "百万" and "医疗"), with
  insurance words added to its dictionary. Fields carry weights (product name highest, then
  insurer and line label, then crowd/scenario labels, coverage names and the tagline); each
  posting holds a precomputed BM25 score, so a query only adds numbers.
- A query is cut into word groups. Every group must match (AND); if nothing matches that way the
  groups are OR-ed instead. A group matches its word, its synonyms (百万医疗 → 医疗, 车险 → 交强险…),
  and, when the word itself is unknown, its sub-words, the known words it prefixes (or, for one
  Chinese character, contains), or known words one edit away (a light typo tolerance).
- Filters, facets and sorting run over the compact records in memory. Facet counts are
  "disjunctive": each facet is counted with every filter except its own, so choosing a line still
  shows how many products the other lines have.
- Freshness: each call reads a cheap fingerprint of the catalog (the `CatalogRevision` counter,
  the number of products and their latest `updated_at`), at most once per
  `HUIBAO_SEARCH_CHECK_SECONDS` (default 0: every call, about 0.2 ms), and rebuilds the index when
  it moved. Catalog services bump the counter on every change.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from bisect import bisect_left
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection

from huibao.catalog.models import (
    CatalogRevision,
    Coverage,
    Crowd,
    LineOfBusiness,
    Product,
    ProductStatus,
    Scenario,
)
from huibao.core.errors import FieldError, ValidationFailed

__all__ = [
    "SORTS",
    "SearchFilters",
    "SearchPage",
    "invalidate_index",
    "search_products",
    "segment",
    "warm_index",
    "warm_index_in_background",
]

logger = logging.getLogger(__name__)

SORTS = ("relevance", "sales", "rating", "price_asc", "price_desc")
MAX_LIMIT = 1000
FACETS = ("line", "insurer", "crowd", "scenario")


@dataclass(frozen=True)
class SearchFilters:
    line: str | None = None
    crowd: str | None = None
    scenario: str | None = None
    insurer: str | None = None
    age: int | None = None  # the product accepts an insured of this age (years)
    max_premium: Decimal | None = None  # premium_from ≤ this
    min_rating: Decimal | None = None  # rating_avg ≥ this


@dataclass(frozen=True)
class SearchPage:
    total: int
    items: list[Product]
    # "line" / "insurer" / "crowd" / "scenario" → [(code, label, count)], largest count first.
    facets: dict[str, list[tuple[str, str, int]]]
    # The page's product ids in order (also when the items were not loaded).
    ids: list[int] = field(default_factory=list)


# --- Segmentation ------------------------------------------------------------------------------

# Insurance words jieba does not know (or would split badly). High frequency so they win.
DOMAIN_WORDS = (
    "百万医疗", "医疗险", "中端医疗", "高端医疗", "惠民保", "防癌险", "重疾险", "重大疾病", "轻症", "中症",
    "意外险", "意外医疗", "意外伤害", "综合意外", "交通意外", "猝死", "定期寿险", "终身寿险", "增额终身寿",
    "年金险", "养老金", "护理险", "旅行险", "境外旅行", "境内旅行", "申根签证", "航班延误", "航班延误险",
    "退货运费险", "运费险", "碎屏险", "手机碎屏", "交强险", "商业车险", "车损险", "三者险", "第三者责任",
    "驾乘险", "家财险", "家庭财产", "宠物险", "宠物医疗", "账户安全", "账户安全险", "盗刷", "网约车",
    "少儿", "学平险", "老年人", "父母", "住院医疗", "门急诊", "特药", "质子重离子", "外购药", "免赔额",
    "等待期", "犹豫期", "保证续保", "保额", "保费", "被保险人", "投保人",
)  # fmt: skip

# Words that say nothing on their own in this catalog; dropped from a query that has others.
STOPWORDS = frozenset({"保险", "险", "的", "保", "和", "与", "及", "产品", "公司", "有限公司", "股份", "版"})

# Query word → words that mean the same here (resolved against the index vocabulary).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "百万医疗": ("医疗",),
    "医疗险": ("医疗",),
    "住院": ("医疗",),
    "看病": ("医疗",),
    "重疾": ("重疾险", "重大疾病"),
    "大病": ("重疾险", "重大疾病"),
    "重大疾病": ("重疾险",),
    "癌症": ("防癌险", "重疾险"),
    "意外": ("意外险",),
    "车险": ("交强险", "商业车险"),
    "汽车": ("交强险", "商业车险"),
    "开车": ("驾乘险", "交强险", "商业车险"),
    "旅游": ("旅行", "旅行险"),
    "出国": ("境外旅行", "旅行险"),
    "出境": ("境外旅行", "旅行险"),
    "运费险": ("退货运费险",),
    "退货": ("退货运费险",),
    "网购": ("退货运费险", "账户安全"),
    "碎屏": ("碎屏险", "手机碎屏"),
    "手机": ("碎屏险", "手机碎屏"),
    "延误": ("航班延误",),
    "飞机": ("航班延误", "航空意外"),
    "寿险": ("定期寿险", "终身寿险"),
    "养老": ("年金险", "养老金"),
    "年金": ("年金险",),
    "宠物": ("宠物险",),
    "猫": ("宠物",),
    "狗": ("宠物",),
    "家财": ("家财险", "家庭财产"),
    "房子": ("家财险",),
    "孩子": ("少儿", "儿童"),
    "小孩": ("少儿", "儿童"),
    "儿童": ("少儿",),
    "老人": ("老年人", "父母"),
    "盗刷": ("账户安全",),
}

# Query words that name a line of business (or the need only some lines cover): a query holding
# one is answered from those lines only (the union over its words), so 百万医疗 lists medical
# products and not the accident products with an 意外医疗 cover. Each line is also indexed as a
# term of its own (`@line:<code>`), which these words match, so a word no product name holds
# (年金险) still finds its line. When the lines hold no match, the intent is dropped.
_MEDICAL, _CI, _ACCIDENT = ("medical",), ("critical_illness",), ("accident",)
_AUTO = ("auto_compulsory", "auto_commercial")
LINE_INTENT: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("医疗", "医疗险", "百万医疗", "住院医疗", "中端医疗", "高端医疗", "惠民保", "住院", "看病", "门急诊",
         "特药", "外购药", "质子重离子"),
        _MEDICAL,
    ),
    **dict.fromkeys(("重疾", "重疾险", "重大疾病", "大病", "轻症", "中症"), _CI),
    **dict.fromkeys(("防癌险", "癌症", "防癌"), ("critical_illness", "medical")),
    **dict.fromkeys(
        ("意外", "意外险", "意外伤害", "意外医疗", "综合意外", "交通意外", "猝死", "网约车", "学平险"),
        _ACCIDENT,
    ),
    "驾乘险": ("accident", "auto_commercial"),
    **dict.fromkeys(("定期寿险", "定寿"), ("term_life",)),
    **dict.fromkeys(("终身寿险", "增额终身寿", "年金", "年金险", "养老", "养老金"), ("whole_life",)),
    "寿险": ("term_life", "whole_life"),
    **dict.fromkeys(
        ("旅行", "旅行险", "旅游", "境外旅行", "境内旅行", "出国", "出境", "申根签证", "签证"), ("travel",)
    ),
    **dict.fromkeys(("航班延误", "航班延误险", "延误"), ("flight_delay", "travel")),
    **dict.fromkeys(("退货运费险", "运费险", "退货", "运费"), ("return_shipping",)),
    **dict.fromkeys(("碎屏险", "手机碎屏", "碎屏", "手机"), ("phone_screen",)),
    "交强险": ("auto_compulsory",),
    **dict.fromkeys(("商业车险", "车损险", "三者险", "第三者责任"), ("auto_commercial",)),
    **dict.fromkeys(("车险", "汽车", "开车", "车"), _AUTO),
    **dict.fromkeys(("家财险", "家庭财产", "家财", "房子", "房屋"), ("home_property",)),
    **dict.fromkeys(("宠物险", "宠物医疗", "宠物", "猫", "狗"), ("pet",)),
    **dict.fromkeys(("账户安全", "账户安全险", "盗刷"), ("account_security",)),
    "网购": ("return_shipping", "account_security"),
}  # fmt: skip


# The words that name a line itself (not a need within it): besides restricting, they match every
# product of that line, so 年金险 finds the annuities although no product name holds the word.
# Narrower words (网约车, 申根签证) only restrict: they must still match a product's own text.
LINE_NAMES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("医疗", "医疗险", "百万医疗"), _MEDICAL),
    **dict.fromkeys(("重疾", "重疾险", "大病"), _CI),
    **dict.fromkeys(("意外", "意外险"), _ACCIDENT),
    "定期寿险": ("term_life",),
    **dict.fromkeys(("终身寿险", "年金", "年金险", "养老"), ("whole_life",)),
    "寿险": ("term_life", "whole_life"),
    **dict.fromkeys(("旅行", "旅行险", "旅游"), ("travel",)),
    **dict.fromkeys(("航班延误", "航班延误险"), ("flight_delay",)),
    **dict.fromkeys(("退货运费险", "运费险"), ("return_shipping",)),
    "碎屏险": ("phone_screen",),
    "交强险": ("auto_compulsory",),
    "商业车险": ("auto_commercial",),
    "车险": _AUTO,
    "家财险": ("home_property",),
    "宠物险": ("pet",),
    "账户安全险": ("account_security",),
}  # fmt: skip


# Query words that name who the cover is for: restricted like the line words, to products of that
# crowd (孩子 means children, not the 毛孩子 of a pet product's tagline).
CROWD_INTENT: dict[str, str] = {
    **dict.fromkeys(("孩子", "小孩", "儿童", "少儿", "宝宝", "学生"), "children"),
    **dict.fromkeys(("老人", "老年人", "父母", "爸妈", "长辈"), "elderly"),
}  # fmt: skip


def line_term(line: str) -> str:
    """The index term every product of `line` carries."""
    return f"@line:{line}"


_jieba_lock = threading.Lock()
_jieba_ready = False
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _jieba() -> object:
    """Loads jieba once per process (about 1.5 s the first time, then from its cache in /tmp)."""
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        with _jieba_lock:
            if not _jieba_ready:
                jieba.setLogLevel(30)
                jieba.initialize()
                for word in DOMAIN_WORDS:
                    jieba.add_word(word, freq=50000)
                _jieba_ready = True
    return jieba


def _clean(tokens: Iterable[str]) -> list[str]:
    out = []
    for raw in tokens:
        token = raw.strip().lower()
        if token and not _PUNCT.fullmatch(token):
            out.append(token)
    return out


def segment(text: str) -> list[str]:
    """Index-side segmentation: every word and the sub-words search mode adds (lower-cased)."""
    jieba = _jieba()
    return _clean(jieba.lcut_for_search(text))  # type: ignore[attr-defined]


def _query_words(text: str) -> list[str]:
    jieba = _jieba()
    return _clean(jieba.lcut(text))  # type: ignore[attr-defined]


def _within_one_edit(a: str, b: str) -> bool:
    """True when b is a or differs from it by one substitution, insertion or deletion."""
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    if la > lb:
        a, b = b, a
    # b is one longer: skip one character of b.
    i = j = 0
    skipped = False
    while i < len(a) and j < len(b):
        if a[i] != b[j]:
            if skipped:
                return False
            skipped = True
            j += 1
            continue
        i += 1
        j += 1
    return True


# --- The index ---------------------------------------------------------------------------------

FIELD_WEIGHTS = {
    "name": 4.0,
    "insurer": 3.0,
    "line": 3.0,
    "code": 2.0,
    "crowd": 1.5,
    "scenario": 1.5,
    "coverage": 1.0,
    "tagline": 1.0,
}
BM25_K1 = 1.2
BM25_B = 0.5
RESULT_CACHE_SIZE = 512


@dataclass(frozen=True, slots=True)
class _Record:
    """What filters, facets and sorting need of one product."""

    id: int
    code: str
    line: str
    insurer: str
    crowds: tuple[str, ...]
    scenarios: tuple[str, ...]
    min_age_days: int
    max_age: int | None
    premium_from: Decimal | None
    rating_avg: Decimal
    rating_count: int
    sales_count: int


@dataclass
class _Index:
    fingerprint: tuple[object, ...]
    records: dict[int, _Record]
    postings: dict[str, dict[int, float]]
    vocabulary: list[str]  # sorted, for prefix lookups
    labels: dict[str, dict[str, str]]  # facet → code → label
    label_order: dict[str, dict[str, int]] = field(default_factory=dict)
    # Answers already computed against this index: (query, filters, sort) → (ordered ids, facets).
    results: OrderedDict[tuple[object, ...], tuple[list[int], dict[str, list[tuple[str, str, int]]]]] = field(
        default_factory=OrderedDict
    )
    _ranks: dict[str, dict[int, int]] = field(default_factory=dict)
    # Per-product presentations built by callers (API summaries), valid while this index is.
    summaries: dict[tuple[str, int], object] = field(default_factory=dict)

    def rank(self, sort: str) -> dict[int, int]:
        """product id → position in the whole catalog under `sort` (computed once per index)."""
        rank = self._ranks.get(sort)
        if rank is None:
            ordered = sorted(self.records.values(), key=_sort_key(sort))
            rank = {r.id: i for i, r in enumerate(ordered)}
            self._ranks[sort] = rank
        return rank

    def remember(
        self, key: tuple[object, ...], value: tuple[list[int], dict[str, list[tuple[str, str, int]]]]
    ) -> None:
        with _index_lock:
            self.results[key] = value
            if len(self.results) > RESULT_CACHE_SIZE:
                self.results.popitem(last=False)

    def resolve(self, word: str) -> list[tuple[str, float]]:
        """The index terms a query word stands for, each with a weight ≤ 1."""
        terms: dict[str, float] = {}
        if word in self.postings:
            terms[word] = 1.0
        elif word not in LINE_NAMES:  # a line's name stands for its line, not for look-alikes
            terms.update(self._fuzzy(word))
        for synonym in SYNONYMS.get(word, ()):
            if synonym in self.postings:
                terms.setdefault(synonym, 0.8)
            for term, weight in self._fuzzy(synonym, prefix_only=True):
                terms.setdefault(term, weight * 0.8)
        for line in LINE_NAMES.get(word, ()):
            if line_term(line) in self.postings:
                terms.setdefault(line_term(line), 0.8)
        return list(terms.items())

    def _fuzzy(self, word: str, *, prefix_only: bool = False) -> list[tuple[str, float]]:
        start = bisect_left(self.vocabulary, word)
        found: list[tuple[str, float]] = []
        for term in self.vocabulary[start : start + 50]:
            if not term.startswith(word):
                break
            found.append((term, 0.7))
        if found or prefix_only:
            return found
        if len(word) == 1 and _CJK.match(word):
            return [(term, 0.5) for term in self.vocabulary if word in term and len(term) <= 4]
        if len(word) >= 2:
            return [
                (term, 0.5) for term in self.vocabulary if _within_one_edit(word, term) and len(term) >= 2
            ]
        return []

    def score(self, query: str) -> dict[int, float]:
        """product id → relevance for the query (only matching products)."""
        groups: list[list[tuple[str, float]]] = []
        words = _query_words(query)
        meaningful = [w for w in words if w not in STOPWORDS] or words
        intended = {line for word in meaningful for line in LINE_INTENT.get(word, ())}
        for_crowds = {CROWD_INTENT[word] for word in meaningful if word in CROWD_INTENT}
        for word in meaningful:
            if word in self.postings or word in SYNONYMS or word in LINE_NAMES:
                groups.append(self.resolve(word))
                continue
            # An unknown word: its known sub-words become groups of their own (平安保险 → 平安).
            subwords = [s for s in segment(word) if s != word and s in self.postings and s not in STOPWORDS]
            if subwords:
                groups.extend(self.resolve(s) for s in dict.fromkeys(subwords))
            else:
                groups.append(self.resolve(word))
        if not groups:
            return {}
        per_group: list[dict[int, float]] = []
        for terms in groups:
            best: dict[int, float] = {}
            for term, weight in terms:
                for pid, value in self.postings.get(term, {}).items():
                    scored = value * weight
                    if scored > best.get(pid, 0.0):
                        best[pid] = scored
            per_group.append(best)
        matched = [g for g in per_group if g]
        if not matched:
            return {}
        common = set(matched[0]).intersection(*matched[1:]) if len(matched) == len(per_group) else set()
        scores: dict[int, float] = defaultdict(float)
        if common:
            for group in per_group:
                for pid in common:
                    scores[pid] += group[pid]
        else:  # OR: products matching more groups first
            hits: dict[int, int] = defaultdict(int)
            for group in matched:
                for pid, value in group.items():
                    scores[pid] += value
                    hits[pid] += 1
            for pid in scores:
                scores[pid] *= hits[pid] / len(per_group)
        return self._as_intended(scores, intended, for_crowds)

    def _as_intended(self, scores: dict[int, float], lines: set[str], crowds: set[str]) -> dict[int, float]:
        """The scores of the products of the lines and crowds the query named (each restriction
        dropped when nothing would be left)."""
        if lines:
            within = {pid: value for pid, value in scores.items() if self.records[pid].line in lines}
            scores = within or scores
        if crowds:
            within = {pid: value for pid, value in scores.items() if crowds & set(self.records[pid].crowds)}
            scores = within or scores
        return scores


def _fingerprint() -> tuple[object, ...]:
    """One cheap query: the revision counter, plus the product count, newest change and highest
    id (which also catch writes that bypass the services, and test databases rolled back)."""
    product = connection.ops.quote_name(Product._meta.db_table)
    revision = connection.ops.quote_name(CatalogRevision._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT counter FROM {revision} WHERE id = 1), COUNT(*), MAX(updated_at), MAX(id) "  # noqa: S608
            f"FROM {product}"
        )
        row = cursor.fetchone()
    return tuple(row) if row else ()


def _build(fingerprint: tuple[object, ...]) -> _Index:
    products = list(
        Product.objects.filter(status=ProductStatus.ON_SALE, current_version__isnull=False).values(
            "id",
            "code",
            "name",
            "line",
            "insurer__code",
            "insurer__name",
            "insurer__short_name",
            "current_version_id",
            "current_version__tagline",
            "current_version__eligibility",
            "premium_from",
            "rating_avg",
            "rating_count",
            "sales_count",
        )
    )
    ids = [p["id"] for p in products]
    crowds: dict[int, list[str]] = defaultdict(list)
    for pid, code in Product.crowds.through.objects.filter(product_id__in=ids).values_list(
        "product_id", "crowd__code"
    ):
        crowds[pid].append(code)
    scenarios: dict[int, list[str]] = defaultdict(list)
    for pid, code in Product.scenarios.through.objects.filter(product_id__in=ids).values_list(
        "product_id", "scenario__code"
    ):
        scenarios[pid].append(code)
    coverages: dict[int, set[str]] = defaultdict(set)
    for version_id, name in Coverage.objects.filter(
        plan__version_id__in=[p["current_version_id"] for p in products]
    ).values_list("plan__version_id", "name"):
        coverages[version_id].add(name)

    crowd_rows = list(Crowd.objects.values_list("code", "name", "sort_order"))
    scenario_rows = list(Scenario.objects.values_list("code", "name", "sort_order"))
    labels: dict[str, dict[str, str]] = {
        "line": {str(c): str(label) for c, label in LineOfBusiness.choices},
        "crowd": {c: n for c, n, _ in crowd_rows},
        "scenario": {c: n for c, n, _ in scenario_rows},
        "insurer": {},
    }
    label_order = {
        "line": {str(c): i for i, c in enumerate(LineOfBusiness.values)},
        "crowd": {c: o for c, _, o in crowd_rows},
        "scenario": {c: o for c, _, o in scenario_rows},
        "insurer": {},
    }

    records: dict[int, _Record] = {}
    term_freqs: dict[int, dict[str, float]] = {}
    lengths: dict[int, float] = {}
    segment_cache: dict[str, list[str]] = {}

    def cut(text: str) -> list[str]:
        if text not in segment_cache:
            segment_cache[text] = segment(text)
        return segment_cache[text]

    for p in products:
        pid = p["id"]
        labels["insurer"][p["insurer__code"]] = p["insurer__short_name"] or p["insurer__name"]
        eligibility = p["current_version__eligibility"] or {}
        max_age = eligibility.get("max_age")
        records[pid] = _Record(
            id=pid,
            code=p["code"],
            line=p["line"],
            insurer=p["insurer__code"],
            crowds=tuple(crowds[pid]),
            scenarios=tuple(scenarios[pid]),
            min_age_days=int(eligibility.get("min_age_days") or 0),
            max_age=int(max_age) if max_age is not None else None,
            premium_from=p["premium_from"],
            rating_avg=p["rating_avg"] or Decimal(0),
            rating_count=p["rating_count"],
            sales_count=p["sales_count"],
        )
        fields: list[tuple[str, list[str]]] = [
            ("name", cut(p["name"])),
            (
                "insurer",
                cut(p["insurer__name"]) + cut(p["insurer__short_name"]) + [p["insurer__code"].lower()],
            ),
            ("line", [*cut(labels["line"].get(p["line"], "")), line_term(p["line"])]),
            ("code", [p["code"].lower()]),
            ("tagline", cut(p["current_version__tagline"] or "")),
            ("crowd", [t for c in crowds[pid] for t in cut(labels["crowd"].get(c, ""))]),
            ("scenario", [t for c in scenarios[pid] for t in cut(labels["scenario"].get(c, ""))]),
            ("coverage", [t for name in sorted(coverages[p["current_version_id"]]) for t in cut(name)]),
        ]
        tf: dict[str, float] = defaultdict(float)
        for field_name, tokens in fields:
            weight = FIELD_WEIGHTS[field_name]
            for token in tokens:
                tf[token] += weight
        term_freqs[pid] = tf
        lengths[pid] = sum(tf.values())

    count = len(records)
    average = (sum(lengths.values()) / count) if count else 1.0
    document_frequency: dict[str, int] = defaultdict(int)
    for tf in term_freqs.values():
        for token in tf:
            document_frequency[token] += 1
    postings: dict[str, dict[int, float]] = defaultdict(dict)
    for pid, tf in term_freqs.items():
        norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths[pid] / average)
        for token, freq in tf.items():
            df = document_frequency[token]
            idf = math.log(1 + (count - df + 0.5) / (df + 0.5))
            postings[token][pid] = idf * freq * (BM25_K1 + 1) / (freq + norm)
    label_order["insurer"] = {code: i for i, code in enumerate(sorted(labels["insurer"]))}
    return _Index(
        fingerprint=fingerprint,
        records=records,
        postings=dict(postings),
        vocabulary=sorted(postings),
        labels=labels,
        label_order=label_order,
    )


_index: _Index | None = None
_index_lock = threading.Lock()
_checked_at = 0.0


def invalidate_index() -> None:
    """Forgets the index of this process; the next search rebuilds it."""
    global _index
    with _index_lock:
        _index = None


def _current_index() -> _Index:
    global _index, _checked_at
    index = _index
    interval = float(getattr(settings, "HUIBAO_SEARCH_CHECK_SECONDS", 0))
    now = time.monotonic()
    if index is not None and interval and now - _checked_at < interval:
        return index
    fingerprint = _fingerprint()
    _checked_at = now
    if index is not None and index.fingerprint == fingerprint:
        return index
    with _index_lock:
        if _index is None or _index.fingerprint != fingerprint:
            _index = _build(fingerprint)
        return _index


def warm_index() -> None:
    """Loads the word segmenter (jieba's dictionary: about a second of CPU, ten seconds and more on
    a loaded machine) and builds the index of the catalogue as it is now, so that the first page
    of a process that searches does not pay for them (a web server process does this at start,
    the browser tests' session once before its first page). A later change of the catalogue
    rebuilds only the index."""
    _jieba()
    _current_index()


def warm_index_in_background() -> threading.Thread:
    """A web server process's start: the index built beside the first requests (which wait for
    it on the index lock only if they need it before it is ready). The thread closes its own
    database connection when done."""

    def run() -> None:
        from django.db import connections

        try:
            warm_index()
        except Exception:  # a missing table before `migrate`: the first search builds it instead
            logger.warning("search index not warmed at start", exc_info=True)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, name="search-index-warm-up", daemon=True)
    thread.start()
    return thread


# --- Filtering, facets, sorting ---------------------------------------------------------------


def _eligible_age(record: _Record, age: int) -> bool:
    # Someone aged `age` years is between age*365 and (age+1)*365 - 1 days old.
    if (age + 1) * 365 - 1 < record.min_age_days:
        return False
    return record.max_age is None or age <= record.max_age


def _failures(record: _Record, filters: SearchFilters) -> tuple[str, ...] | None:
    """The facet filters the record fails, or None when it fails a non-facet filter (age,
    price, rating), which excludes it from every count."""
    if filters.age is not None and not _eligible_age(record, filters.age):
        return None
    if filters.max_premium is not None and (
        record.premium_from is None or record.premium_from > filters.max_premium
    ):
        return None
    if filters.min_rating is not None and record.rating_avg < filters.min_rating:
        return None
    failed: list[str] = []
    if filters.line and record.line != filters.line:
        failed.append("line")
    if filters.insurer and record.insurer != filters.insurer:
        failed.append("insurer")
    if filters.crowd and filters.crowd not in record.crowds:
        failed.append("crowd")
    if filters.scenario and filters.scenario not in record.scenarios:
        failed.append("scenario")
    return tuple(failed)


def _facet_values(record: _Record, facet: str) -> tuple[str, ...]:
    if facet == "line":
        return (record.line,)
    if facet == "insurer":
        return (record.insurer,)
    if facet == "crowd":
        return record.crowds
    return record.scenarios


def _filter_and_count(
    index: _Index, candidates: Iterable[_Record], filters: SearchFilters
) -> tuple[list[_Record], dict[str, list[tuple[str, str, int]]]]:
    """One pass: the records passing every filter, and disjunctive facet counts (a record that
    fails exactly one facet filter still counts in that facet)."""
    matching: list[_Record] = []
    counts: dict[str, dict[str, int]] = {facet: defaultdict(int) for facet in FACETS}
    for record in candidates:
        failed = _failures(record, filters)
        if failed is None or len(failed) > 1:
            continue
        if not failed:
            matching.append(record)
            facets: tuple[str, ...] = FACETS
        else:
            facets = failed
        for facet in facets:
            bucket = counts[facet]
            for value in _facet_values(record, facet):
                bucket[value] += 1
    out: dict[str, list[tuple[str, str, int]]] = {}
    for facet in FACETS:
        labels, order = index.labels[facet], index.label_order[facet]
        out[facet] = [
            (code, labels.get(code, code), n)
            for code, n in sorted(
                counts[facet].items(), key=lambda kv: (-kv[1], order.get(kv[0], 1 << 30), kv[0])
            )
        ]
    return matching, out


def _sort_key(sort: str) -> Any:
    if sort == "rating":
        return lambda r: (-r.rating_avg, -r.rating_count, -r.sales_count, r.code)
    if sort == "price_asc":
        return lambda r: (r.premium_from is None, r.premium_from or 0, r.code)
    if sort == "price_desc":  # unknown prices last either way
        return lambda r: (r.premium_from is None, -(r.premium_from or 0), r.code)
    return lambda r: (-r.sales_count, -r.rating_avg, r.code)  # sales, and relevance without a query


def _sort(index: _Index, records: list[_Record], sort: str, scores: dict[int, float] | None) -> list[_Record]:
    if sort == "relevance" and scores is not None:
        return sorted(records, key=lambda r: (-scores[r.id], -r.sales_count, r.code))
    # The catalog pre-sorted once per order at build time; keep that order for the survivors.
    rank = index.rank(sort)
    return sorted(records, key=lambda r: rank[r.id])


def _validate(sort: str, offset: int, limit: int) -> None:
    errors = []
    if sort not in SORTS:
        errors.append(FieldError("sort", "invalid_choice", f"sort must be one of {', '.join(SORTS)}"))
    if offset < 0:
        errors.append(FieldError("offset", "min_value", "offset must be ≥ 0"))
    if not 1 <= limit <= MAX_LIMIT:
        errors.append(FieldError("limit", "out_of_range", f"limit must be between 1 and {MAX_LIMIT}"))
    if errors:
        raise ValidationFailed("invalid search parameters", errors=errors)


SUMMARY_FIELDS = (
    "id",
    "code",
    "name",
    "line",
    "status",
    "sales_count",
    "rating_avg",
    "rating_count",
    "premium_from",
    "insurer__code",
    "insurer__name",
    "insurer__short_name",
    "current_version__number",
    "current_version__tagline",
    "current_version__highlights",
)


def search_products(
    query: str = "",
    filters: SearchFilters = SearchFilters(),  # frozen, so a shared default is safe
    sort: str = "relevance",
    offset: int = 0,
    limit: int = 20,
    *,
    load_items: bool = True,
) -> SearchPage:
    """On-sale products matching `query` (all of them when blank) and `filters`, one page of them
    in `sort` order, with facet counts. Raises ValidationFailed for a bad sort/offset/limit."""
    _validate(sort, offset, limit)
    index = _current_index()
    query = " ".join(query.split())[:100]
    key = (query, filters, sort)
    cached = index.results.get(key)
    if cached is None:
        scores = index.score(query) if query else None
        candidates = [index.records[pid] for pid in scores] if scores is not None else index.records.values()
        matching, facets = _filter_and_count(index, candidates, filters)
        cached = ([r.id for r in _sort(index, matching, sort, scores)], facets)
        index.remember(key, cached)
    ordered_ids, facets = cached
    page_ids = ordered_ids[offset : offset + limit]
    items: list[Product] = []
    if page_ids and load_items:
        items = _load_page(index, page_ids)
    return SearchPage(
        total=len(ordered_ids), items=items, facets={k: list(v) for k, v in facets.items()}, ids=page_ids
    )


def _load_page(index: _Index, page_ids: list[int]) -> list[Product]:
    rows = (
        Product.objects.filter(id__in=page_ids)
        .select_related("insurer", "current_version")
        # A result list shows a summary only: the versions' JSON columns (rating spec,
        # eligibility, descriptions) are large and cost more to decode than the query itself.
        .only(*SUMMARY_FIELDS)
    )
    by_id = {p.id: p for p in rows}
    items = [by_id[pid] for pid in page_ids if pid in by_id]
    # Crowd and scenario labels come from the index: no per-page many-to-many queries.
    crowd_labels, scenario_labels = index.labels["crowd"], index.labels["scenario"]
    for product in items:
        record = index.records[product.id]
        product.crowd_labels = [(c, crowd_labels.get(c, c)) for c in record.crowds]  # type: ignore[attr-defined]
        product.scenario_labels = [(c, scenario_labels.get(c, c)) for c in record.scenarios]  # type: ignore[attr-defined]
    return items


def cached_summaries[T](kind: str, page_ids: list[int], build: Callable[[Product], T]) -> list[T]:
    """`build(product)` for each id, memoised per process until the catalog changes.

    Products missing from the memo are loaded in one query (summary columns only)."""
    index = _current_index()
    memo = index.summaries
    missing = [pid for pid in page_ids if (kind, pid) not in memo]
    if missing:
        for product in _load_page(index, missing):
            memo[(kind, product.id)] = build(product)
    return [memo[(kind, pid)] for pid in page_ids if (kind, pid) in memo]  # type: ignore[misc]
