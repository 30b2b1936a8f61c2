"""A tiny labelled set made up for the classifier tests: three labels with plain words."""

from __future__ import annotations

import itertools

WORDS = {
    "教育文体": ["学校", "老师", "学生", "补课", "学费", "课程", "幼儿园", "考试"],
    "交通运输": ["公交", "车站", "出租车", "线路", "司机", "站台", "班车", "地铁"],
    "卫生计生": ["医院", "医生", "看病", "药品", "疫苗", "护士", "门诊", "挂号"],
}
FILLERS = ["请领导关注", "希望尽快解决", "群众反映强烈", "多次反映无果"]


def tiny_set() -> tuple[list[str], list[str]]:
    """45 texts (15 per label): a title line and a body made of the label's words."""
    texts: list[str] = []
    labels: list[str] = []
    for label, words in WORDS.items():
        pairs = list(itertools.combinations(words, 2))[:15]
        for i, (a, b) in enumerate(pairs):
            filler = FILLERS[i % len(FILLERS)]
            texts.append(f"关于{a}的问题\n我们这里{a}和{b}存在问题，{filler}。")
            labels.append(label)
    return texts, labels
