"""wa-conversions: WhatsApp capture, attribution and conversion forwarding.

The package's one composition style (README, "Code layout"): each capability's `wiring.py` builds
its clients, repositories and runners in zero-argument factories marked `@once`, cached for the
execution environment; `reset()` forgets everything so built or cached, as a new execution
environment would start (tests call it, and only it). Kept here rather than in a module of its own
so that no handler, the acknowledging webhooks included, loads one module more for it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, cast

_resets: list[Callable[[], None]] = []


def once[F: Callable[..., Any]](factory: F) -> F:
    """Build on the first call, then answer the same object until reset()."""
    cached = cache(factory)
    _resets.append(cached.cache_clear)
    return cast("F", cached)


def on_reset[C: Callable[[], None]](clear: C) -> C:
    """Have reset() call `clear` too: for state that no factory holds (a client pool, a TTL cache)."""
    _resets.append(clear)
    return clear


def reset() -> None:
    """Forget every object built by a factory and every registered cache."""
    for clear in _resets:
        clear()
