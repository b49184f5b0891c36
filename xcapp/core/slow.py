"""CPU-heavy work of a request (a password hash, decoding and resizing a photo, parsing
an import file) runs on a low-priority thread of its own per process, while the request
waits for it. On a machine shared by several workers the operating system then gives
the CPU to a save served meanwhile first, instead of sharing it equally with the slow
work (issue 11: slow work never blocks a save).

The function run there must be pure (no database session, no request): it gets its
inputs as arguments and returns its result; exceptions reach the caller unchanged.
``SLOW_WORK_NICE`` (default 10; 0 runs the work in the calling thread at normal
priority) sets how much lower the thread's priority is (Linux: a thread's own nice value).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

T = TypeVar("T")
DEFAULT_NICE = 10
_lock = threading.Lock()
_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}   # (pid, nice) -> pool: a forked worker makes its own


def _lower_priority(nice: int) -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (AttributeError, OSError):   # not Linux, or not allowed: normal priority
        pass


def _pool(nice: int) -> ThreadPoolExecutor:
    key = (os.getpid(), nice)
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = ThreadPoolExecutor(max_workers=2, thread_name_prefix="xcapp-slow",
                                                   initializer=_lower_priority, initargs=(nice,))
        return pool


def configured_nice() -> int:
    from flask import current_app, has_app_context

    if has_app_context():
        return int(current_app.config.get("SLOW_WORK_NICE", DEFAULT_NICE))
    return DEFAULT_NICE


def run(fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)`` on the low-priority thread; its result or its exception."""
    nice = configured_nice()
    if nice <= 0:
        return fn(*args, **kwargs)
    return _pool(nice).submit(fn, *args, **kwargs).result()
