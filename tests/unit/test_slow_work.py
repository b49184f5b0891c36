"""Slow CPU work runs on a low-priority thread and hands back its result or exception."""
import os
import threading

import pytest

from xcapp.core import slow


def _where():
    return threading.get_ident(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_slow_work_runs_on_a_lower_priority_thread():
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    ident, nice = slow.run(_where)
    assert ident != threading.get_ident()
    assert nice == max(mine, slow.DEFAULT_NICE)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine   # the caller's own is unchanged


def test_slow_work_passes_arguments_and_exceptions():
    assert slow.run(divmod, 17, 5) == (3, 2)
    with pytest.raises(ZeroDivisionError):
        slow.run(divmod, 1, 0)


def test_slow_work_can_be_turned_off(app, monkeypatch):
    monkeypatch.setitem(app.config, "SLOW_WORK_NICE", 0)   # for this test only: the app outlives it
    assert slow.run(_where)[0] == threading.get_ident()
