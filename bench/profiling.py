"""Where the hot path's time goes: cProfile for the shape, timeit of the parts for the amounts.

cProfile charges its own overhead to every Python call it sees, so small, frequent calls (a
generator step, a dataclass __init__) look several times dearer than they are, and it files every
dataclass-generated __init__ under one name, keeping one class's figures. The construction and
helper costs are therefore also timed directly, and multiplied by how often one webhook needs them.
"""

from __future__ import annotations

import cProfile
import dataclasses
import functools
import pstats
import timeit
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .payloads import ROOT

LAYER_PACKAGE = ROOT / "layers" / "core" / "wa_conversions"
# Meta's wa_id as it arrives, for timing the phone normaliser on a realistic input.
SAMPLE_WA_ID = "16505551234"


@dataclass(frozen=True)
class Line:
    function: str
    calls: int
    own_us: float  # per webhook, excluding callees
    total_us: float  # per webhook, including callees
    ours: bool  # defined in wa_conversions


@dataclass(frozen=True)
class Cost:
    what: str
    calls: int  # per webhook
    unit_us: float
    plain_us: float | None = None  # the same fields in a plain (not frozen) slotted dataclass

    @property
    def total_us(self) -> float:
        return self.calls * self.unit_us


def _name(file: str, line: int, function: str) -> tuple[str, bool]:
    path = Path(file)
    if path.is_relative_to(LAYER_PACKAGE):
        return f"{path.relative_to(LAYER_PACKAGE.parent)}:{line} {function}", True
    if file == "~":  # built-ins and C functions
        return function, False
    if file == "<string>":
        return f"dataclass-generated {function} (one class's share)", False
    return f"{path.name}:{line} {function}", False


def profile(call: Callable[[], object], iterations: int) -> tuple[list[Line], float]:
    """Every function the call reached, most own time first, and the profiled total, per webhook."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(iterations):
        call()
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    raw = stats.stats  # type: ignore[attr-defined]
    lines: list[Line] = []
    for (file, line, function), (_, calls, own, total, _callers) in raw.items():
        name, ours = _name(file, line, function)
        lines.append(Line(name, calls // iterations, own / iterations * 1e6, total / iterations * 1e6, ours))
    lines.sort(key=lambda line: line.own_us, reverse=True)
    whole: float = stats.total_tt  # type: ignore[attr-defined]
    return lines, whole / iterations * 1e6


def _unit_us(call: Callable[[], object], number: int = 20_000, repeats: int = 5) -> float:
    return min(timeit.Timer(call).repeat(repeat=repeats, number=number)) / number * 1e6


def _instances(updates: Iterable[object]) -> dict[type, list[Any]]:
    """Every dataclass instance reachable from the updates, once each, by class."""
    found: dict[type, list[Any]] = {}
    seen: set[int] = set()
    stack: list[object] = list(updates)
    while stack:
        item = stack.pop()
        if isinstance(item, tuple | list):
            stack.extend(item)
            continue
        if not dataclasses.is_dataclass(item) or isinstance(item, type) or id(item) in seen:
            continue
        seen.add(id(item))
        found.setdefault(type(item), []).append(item)
        stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
    return found


def construction_costs(updates: list[object]) -> list[Cost]:
    """What building the domain objects of one webhook costs, class by class, beside what the same
    objects would cost as plain slotted dataclasses."""
    costs: list[Cost] = []
    for cls, instances in _instances(updates).items():
        sample = instances[0]
        names = [f.name for f in dataclasses.fields(sample) if f.init]
        kwargs = {name: getattr(sample, name) for name in names}
        plain = dataclasses.make_dataclass(f"Plain{cls.__name__}", names, slots=True)
        costs.append(
            Cost(
                f"{cls.__name__}(...)",
                len(instances),
                _unit_us(functools.partial(cls, **kwargs)),
                _unit_us(functools.partial(plain, **kwargs)),
            )
        )
    return sorted(costs, key=lambda cost: cost.total_us, reverse=True)


def helper_costs(lines: list[Line]) -> list[Cost]:
    """The per-update helpers cProfile found the hot path calling, timed on their own."""
    calls = {line.function.rsplit(" ", 1)[-1]: line.calls for line in lines if line.ours}
    enum_calls = sum(
        line.calls for line in lines if line.function.startswith("enum.py") and "__call__" in line.function
    )
    costs: list[Cost] = []
    try:
        from wa_conversions.models.domain import MessageType
        from wa_conversions.phones import wa_digits
    except ImportError:
        return costs
    if calls.get("wa_digits"):
        costs.append(
            Cost(
                f"wa_digits({SAMPLE_WA_ID!r})", calls["wa_digits"], _unit_us(lambda: wa_digits(SAMPLE_WA_ID))
            )
        )
    if enum_calls:
        costs.append(
            Cost("MessageType('text') and the like", enum_calls, _unit_us(lambda: MessageType("text")))
        )
    return costs
