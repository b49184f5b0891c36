"""The base of every vocabulary (risk classes, plan/task/record states, ...).

Each vocabulary is one ``Vocabulary`` subclass in the feature that owns it
(``registry/vocab.py``, ``plans/vocab.py``, ``inspections/vocab.py``,
``oversight/followup.py``) and is exposed to templates as a Jinja global
(``create_app``). A member *is* its stored string (``enum.StrEnum``): it compares equal to,
hashes like and is stored as the plain value, so database values and JSON stay unchanged.
Members carry their Chinese label::

    class TaskState(Vocabulary):
        PENDING = "pending", "待检查"

    TaskState.PENDING == "pending"; TaskState.PENDING.label == "待检查"
"""
from __future__ import annotations

from enum import StrEnum


class Vocabulary(StrEnum):
    """A ``StrEnum`` whose members carry a label (the value itself when none is given)."""

    label: str

    def __new__(cls, value: str, label: str | None = None):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = value if label is None else label
        return member

    @classmethod
    def labels(cls) -> dict[str, str]:
        """``{value: label}`` in definition order (for choices and lookups)."""
        return {m.value: m.label for m in cls}

    @classmethod
    def label_of(cls, value: str, default: str | None = None) -> str:
        """The label of a stored value; ``default`` (the value itself if None) when unknown."""
        try:
            return cls(value).label
        except ValueError:
            return value if default is None else default
