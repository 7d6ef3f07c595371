"""Key terms of a need and how well a profile text covers them (for scores and explanations)."""

import re
from collections.abc import Iterable

import rjieba

_SPLIT = re.compile(r"[\s,，、;；。.:：/()（）\[\]【】“”\"'《》<>+＋&|]+|及|和|与|或|等")
_STOP = {
    "采购",
    "需求",
    "配套",
    "供应",
    "供应商",
    "征集",
    "寻找",
    "求购",
    "国产替代",
    "替代",
    "国产",
    "国产化",
    "进口",
    "攻关",
    "协作",
    "产能",
    "外协",
    "委外",
    "材料",
    "部件",
    "零部件",
    "系统",
    "设备",
    "装置",
    "解决方案",
    "能力",
    "高精度",
    "高性能",
    "高端",
    "合作",
    "项目",
    "企业",
    "公司",
    "产品",
    "服务",
    "技术",
    "研发",
    "开发",
    "生产",
    "加工",
    "制造",
    "定制",
    "批量",
    "年",
    "用",
    "的",
    "高",
    "新",
}


def words(text: str) -> list[str]:
    """Chinese word segmentation (jieba's dictionary, via the Rust port)."""
    return [w for w in rjieba.cut(text.lower()) if w.strip()]


def key_terms(keywords: Iterable[str], title: str, limit: int = 12) -> list[str]:
    """The need's keywords, then the content words of its title, deduplicated."""
    out: dict[str, None] = {}
    for kw in keywords:
        kw = kw.strip().lower()
        if len(kw) >= 2:
            out.setdefault(kw, None)
    for part in _SPLIT.split(title.lower()):
        for word in words(part):
            if len(word) >= 2 and word not in _STOP:
                out.setdefault(word, None)
    return list(out)[:limit]


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


TermSet = list[tuple[str, frozenset[str]]]


def prepare_terms(terms: Iterable[str]) -> TermSet:
    """Terms with their character bigrams, computed once per query."""
    return [(t, frozenset(_bigrams(t))) for t in terms]


def _covered(term: str, grams: frozenset[str], text: str) -> bool:
    if term in text:
        return True
    return len(grams) >= 3 and sum(1 for g in grams if g in text) >= 0.67 * len(grams)


def term_matches(terms: TermSet, text: str) -> list[str]:
    """The terms found in `text`: whole, or by most of their character bigrams for long terms."""
    text = text.lower()
    return [term for term, grams in terms if _covered(term, grams, text)]
