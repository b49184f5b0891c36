"""The vocabularies: a member is its stored string, carries its label, and every one
reaches the templates."""
from __future__ import annotations

import json

import pytest

from xcapp import vocabularies
from xcapp.core.vocab import Vocabulary
from xcapp.inspections.vocab import InspectionState, SelfCheckMatch
from xcapp.plans import sampling
from xcapp.plans.vocab import RatioField, TaskState
from xcapp.registry.vocab import RISK_CHOICES, RISK_PENDING, RiskClass


def test_member_is_its_stored_string():
    assert TaskState.PENDING == "pending" and "pending" == TaskState.PENDING
    assert {"pending": 1}[TaskState.PENDING] == 1
    assert TaskState("pending") is TaskState.PENDING
    assert str(TaskState.PENDING) == f"{TaskState.PENDING}" == "pending"
    assert json.dumps({RiskClass.MIDHIGH: RiskClass.LOW}, ensure_ascii=False) == '{"中高": "低"}'


def test_labels():
    assert TaskState.PENDING.label == "待检查"
    assert InspectionState.labels() == {"draft": "填写中", "submitted": "已提交", "returned": "已退回",
                                        "approved": "已通过"}
    assert SelfCheckMatch.label_of("partly") == "基本符合"
    assert SelfCheckMatch.label_of("", "") == ""
    assert TaskState.label_of("unknown") == "unknown"


def test_risk_classes_are_the_protocols_order():
    assert sampling.RISK_ORDER == ("低", "中", "中高", "高") == tuple(RiskClass)
    assert all(type(r) is str for r in sampling.RISK_ORDER)     # plain strings in the protocol
    assert RISK_CHOICES == (*RiskClass, RISK_PENDING)
    assert [(f.value, f.risk) for f in RatioField] == [("ratio_low", "低"), ("ratio_mid", "中"),
                                                        ("ratio_midhigh", "中高"), ("ratio_high", "高")]


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_vocabulary_reaches_the_templates():
    registered = vocabularies()
    for cls in _subclasses(Vocabulary):
        if cls.__module__.startswith("xcapp."):
            assert registered.get(cls.__name__) is cls, cls


@pytest.mark.parametrize("source, expected", [
    ("{% for r in RiskClass %}{{ r }}={{ r.label }};{% endfor %}", "低=低风险;中=中风险;中高=中高风险;高=高风险;"),
    ("{{ 'yes' if state == TaskState.RETURNED and state in TASK_OPEN_STATES }}", "yes"),
])
def test_templates_see_vocabularies(source, expected):
    from jinja2 import Environment

    env = Environment()
    env.globals.update(vocabularies())
    assert env.from_string(source).render(state="returned") == expected
