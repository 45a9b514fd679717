"""`python -m bench`: per-webhook CPU of the hot path against its floor and pywa, cold imports of
every handler against `import boto3` (from the source tree, or `--built` from sam build's artifact),
and with `--work` AWS calls and write units per webhook through the local stack and the webhook's
first request; `--cost-doc` writes docs/cost.md from them. Prints figures; never fails on a target."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from . import cold_import, contenders, payloads, profiling
from .timing import Timing, busy_note, load_average, measure_together

PARSE_TARGET = 2.0  # hot path / floor on the batched webhook
ACK_IMPORT_TARGET = 1.2  # *_webhook handlers: they answer Meta, so their cold start is on its clock
OTHER_IMPORT_TARGET = 1.6
FIRST_CALL_TARGET = 1.5  # the webhook's first request (boto3's import and clients), over its import
ACK_SUFFIX = "_webhook"

FLOOR, OURS, ACK, PYWA = "floor", "ours (hot path)", "ack path", "pywa"


@dataclass
class PayloadResult:
    webhook: payloads.Webhook
    timings: dict[str, Timing]
    pywa_error: str | None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 2)


def _x(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"


def _verdict(ratio: float | None, target: float) -> str:
    if ratio is None:
        return "n/a"
    return "ok" if ratio <= target else "MISSED"


def _us(timing: Timing | None) -> str:
    if timing is None:
        return "n/a"
    return f"{timing.best_us:,.1f} [{timing.median_us:,.1f}]"


def run_hot_path(budget_s: float, repeats: int) -> list[PayloadResult]:
    reader = contenders.PywaReader()
    results: list[PayloadResult] = []
    for webhook in (payloads.batched(), payloads.referral_sample(), payloads.referral_sample_with_user_id()):
        calls = {
            FLOOR: contenders.floor(webhook),
            OURS: contenders.hot_path(webhook),
            ACK: contenders.ack_path(webhook),
            PYWA: reader.contender(webhook),
        }
        pywa_error = None
        try:
            contenders.check_updates(webhook, calls[PYWA](), PYWA)
        except (KeyError, IndexError, TypeError, ValueError) as error:
            pywa_error = f"{type(error).__name__}: {error}"
            del calls[PYWA]
        contenders.check_updates(webhook, calls[OURS](), OURS)
        contenders.check_parts(webhook, calls[ACK]())
        timings = measure_together(calls, budget_s=budget_s, repeats=repeats)
        results.append(PayloadResult(webhook, timings, pywa_error))
    return results


def print_hot_path(results: list[PayloadResult], stages: dict[str, Timing]) -> None:
    first = next(iter(results[0].timings.values()))
    print(
        f"Per-webhook CPU, µs: min of {first.repeats} repeats [median], gc on."
        " ours = verify_meta_signature + parse_webhook + normalize;"
    )
    print("  ack = WebhookSignature.from_headers + check_signature + read_webhook + split_for_queue;")
    print("  floor = hmac.new(...).hexdigest() + hmac.compare_digest + json.loads;")
    print("  pywa = webhook_updates_validator + RawUpdate + Message/MessageStatus.from_update per update.")
    header = (
        f"{'payload':<27}{'bytes':>7}{'upd':>5}  {FLOOR:>17}  {OURS:>19}  {ACK:>17}  {PYWA:>19}"
        f"  {'ours/floor':>10}  {'ack/floor':>9}  {'ours/pywa':>9}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        t, webhook = result.timings, result.webhook
        pywa = t.get(PYWA)
        print(
            f"{webhook.name:<27}{len(webhook.body):>7,}{webhook.updates:>5}  {_us(t[FLOOR]):>17}"
            f"  {_us(t[OURS]):>19}  {_us(t[ACK]):>17}  {_us(pywa):>19}"
            f"  {_x(_ratio(t[OURS].best_us, t[FLOOR].best_us)):>10}"
            f"  {_x(_ratio(t[ACK].best_us, t[FLOOR].best_us)):>9}"
            f"  {_x(_ratio(t[OURS].best_us, pywa.best_us if pywa else None)):>9}"
        )
    for result in results:
        if result.pywa_error:
            print(f"  pywa n/a on '{result.webhook.name}': from_update raised {result.pywa_error}")
    batch = results[0]
    print(f"\nHot path by stage, {batch.webhook.name} (µs, min [median]):")
    for name, timing in stages.items():
        share = timing.best_us / batch.timings[OURS].best_us
        print(f"  {name:<26}{_us(timing):>19}  {share:>4.0%} of the hot path")
    per_update = batch.timings[OURS].best_us / batch.webhook.updates
    floor_per_update = batch.timings[FLOOR].best_us / batch.webhook.updates
    print(f"  per update: ours {per_update:.2f} µs, floor {floor_per_update:.2f} µs")


def print_profile(webhook: payloads.Webhook, normalize_us: float, top: int = 10) -> None:
    hot_path = contenders.hot_path(webhook)
    lines, total = profiling.profile(hot_path, iterations=200)
    print(
        f"\ncProfile of the hot path, {webhook.name}, per webhook (profiled total {total:,.0f} µs;"
        " small Python calls look dearer than they are)."
    )
    print(f"  {'own µs':>8} {'share':>6} {'calls':>6}  function, most own time first")
    for line in lines[:top]:
        print(f"  {line.own_us:>8,.1f} {line.own_us / total:>6.1%} {line.calls:>6}  {line.function}")
    print(f"  {'incl. µs':>8} {'share':>6} {'calls':>6}  wa_conversions functions, callees included")
    ours = sorted((line for line in lines if line.ours), key=lambda line: line.total_us, reverse=True)
    for line in ours[:top]:
        print(f"  {line.total_us:>8,.1f} {line.total_us / total:>6.1%} {line.calls:>6}  {line.function}")

    produced = hot_path()
    assert isinstance(produced, list)
    costs = [*profiling.construction_costs(produced), *profiling.helper_costs(lines)]
    print(
        f"\nInside normalize ({normalize_us:,.0f} µs unprofiled), timed directly: calls per webhook"
        " x µs per call [the same object as a plain slotted dataclass]"
    )
    for cost in costs:
        plain = f"  [{cost.plain_us:.2f} µs plain]" if cost.plain_us is not None else ""
        print(
            f"  {cost.what:<36}{cost.calls:>5} x {cost.unit_us:>5.2f} µs = {cost.total_us:>6,.0f} µs"
            f"  {cost.total_us / normalize_us:>4.0%}{plain}"
        )
    explained = sum(cost.total_us for cost in costs)
    print(
        f"  {'accounted for':<36}{'':>17}{explained:>6,.0f} µs  {explained / normalize_us:>4.0%};"
        " the rest is the normaliser's own attribute reads, f-strings and generators."
    )


def import_target(function: str) -> float:
    return ACK_IMPORT_TARGET if function.endswith(ACK_SUFFIX) else OTHER_IMPORT_TARGET


def print_cold_imports(targets: list[cold_import.Target], runs: int) -> dict[str, float | None]:
    """Prints the table; returns each handler's import time over boto3's (None if it failed)."""
    by_label = {target.label: target for target in targets}
    boto3, bare = by_label[cold_import.BOTO3], by_label[cold_import.BARE]
    baseline = boto3.import_ms if boto3.error is None else None
    print(
        f"\nCold import, ms: clock inside a fresh interpreter around the import, median of {runs} runs"
        " after one warm-up [min]; process = whole child wall time."
    )
    header = f"{'module':<26}{'import ms':>17}{'process ms':>12}{'vs boto3':>10}{'target':>9}  verdict"
    print(header)
    print("-" * len(header))
    ratios: dict[str, float | None] = {}
    for target in targets:
        handler = target.module == "app"
        if target.error is not None:
            print(f"{target.label:<26}  failed: {target.error}")
            if handler:
                ratios[target.label] = None
            continue
        if target.module is None:
            print(f"{target.label:<26}{'-':>17}{target.wall_ms:>12.1f}")
            continue
        ratio = _ratio(target.import_ms, baseline)
        import_ms = f"{target.import_ms:.1f} [{target.best_import_ms:.1f}]"
        row = f"{target.label:<26}{import_ms:>17}{target.wall_ms:>12.1f}{_x(ratio):>10}"
        if handler:
            limit = import_target(target.label)
            ratios[target.label] = ratio
            row += f"{f'<= {limit:.1f}x':>9}  {_verdict(ratio, limit)}"
        else:
            row += f"{'baseline':>9}"
        print(row)
    if bare.error is None and boto3.error is None:
        print(
            f"  Interpreter start-up alone takes {bare.wall_ms:.1f} ms of every process; boto3's import"
            f" {boto3.import_ms:.1f} ms comes on top."
        )
    print(
        f"  Targets: handlers that acknowledge webhooks (*{ACK_SUFFIX}) within {ACK_IMPORT_TARGET}x"
        f" import boto3, every other handler within {OTHER_IMPORT_TARGET}x."
    )
    return ratios


def run_work(
    layout: cold_import.Layout, runs: int
) -> tuple[list[dict[str, Any]], float | None, dict[str, Any]]:
    """Per unit of work through the local stack, the webhook function's first request over its
    import, and the analytics aggregator's cost per event over a contact's history; prints them,
    returns each unit's figures, that ratio and the history's figures."""
    from . import aws_calls

    print("\nAWS calls per webhook through the local stack (the functions' own requests, moto's recorder):")
    task_root = layout.functions[cold_import.ACK_FUNCTION]
    measured, first = aws_calls.measure(
        first_call_layout=(task_root, layout.layer, layout.writes_bytecode),
        runs=runs,
        settings=aws_calls.DEFAULT_DEPLOYMENT,
    )
    with_collector, _ = aws_calls.measure(settings=aws_calls.WITH_COLLECTOR, single_updates_only=True)
    works = [{"name": work.name, **work.summary()} for work in measured]
    works += [{"name": work.name, "collector": True, **work.summary()} for work in with_collector]
    header = f"{'webhook':<44}{'updates':>8}{'before 200':>11}{'calls':>7}{'WCU':>7}{'RCU':>7}{'events':>7}"
    print(header)
    print("-" * len(header))
    for work in works:
        label = work["name"] + (" +collector" if work.get("collector") else "")
        print(
            f"{label:<44}{work['updates']:>8}{work['ack_path_calls']:>11}{work['aws_calls']:>7}"
            f"{work['write_units']:>7}{work['read_units']:>7g}{work['events']:>7}"
        )
    history = aws_calls.contact_history()
    print(f"\nThe analytics aggregator per event over one contact's first {history['events']} events:")
    for span, figures in history["per_event"].items():
        print(
            f"  events {span}: {figures['write_units']:g} write units, {figures['read_units']:g} read"
            f" units, {figures['aws_calls']:g} calls"
        )
    day = aws_calls.busy_day()
    print(f"\nThe analytics aggregator per event over a busy day of {day['contacts']} contacts:")
    for span, figures in day["per_event"].items():
        print(f"  events {span}: {figures['write_units']:g} write units, {figures['aws_calls']:g} calls")
    history["busy_day"] = day
    ratio = None if first is None else first.ratio()
    if first is not None and ratio is not None:
        import statistics

        import_ms, first_ms, second_ms = (
            statistics.median(times) * 1000 for times in (first.import_s, first.first_s, first.second_s)
        )
        print(
            f"\nFirst request of {cold_import.ACK_FUNCTION} in a fresh interpreter, {len(first.first_s)} runs"
            f" (median): import {import_ms:.1f} ms, first request {first_ms:.1f} ms,"
            f" second {second_ms:.1f} ms:"
            f" the first is {ratio:.2f}x the import (target <= {FIRST_CALL_TARGET}x)"
            f" {_verdict(ratio, FIRST_CALL_TARGET)}."
        )
    return works, ratio, history


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="cold-import runs per module (default 7)")
    parser.add_argument(
        "--import-budget",
        type=float,
        default=30.0,
        help="seconds for the cold-import runs; fewer runs (at least 3) when --runs would take longer",
    )
    parser.add_argument("--repeats", type=int, default=7, help="timeit repeats per contender (default 7)")
    parser.add_argument("--budget", type=float, default=0.4, help="seconds of timing per contender")
    parser.add_argument("--profile", action="store_true", help="profile the hot path even if on target")
    parser.add_argument(
        "--built",
        type=Path,
        metavar="DIR",
        help="cold imports from sam build's artifact (make bench: .aws-sam/build), not the source tree",
    )
    parser.add_argument(
        "--work",
        action="store_true",
        help="count AWS calls and write units per unit of work through the local stack (about 90 s)",
    )
    parser.add_argument(
        "--cost-doc", type=Path, metavar="FILE", help="write the cost model there (make bench: docs/cost.md)"
    )
    args = parser.parse_args(argv)
    if args.cost_doc is not None and not (args.work and args.built):
        parser.error("--cost-doc needs --work and --built: the page shows both")

    started, load_before = time.perf_counter(), load_average()
    print(
        f"wa-conversions bench: Python {platform.python_version()} ({platform.machine()}),"
        f" pydantic {_version('pydantic')}, pywa {_version('pywa')}, boto3 {_version('boto3')},"
        f" aws-lambda-powertools {_version('aws-lambda-powertools')}\n"
    )
    results = run_hot_path(args.budget, args.repeats)
    batch = results[0]
    stages = measure_together(
        contenders.hot_path_stages(batch.webhook), budget_s=args.budget, repeats=args.repeats
    )
    print_hot_path(results, stages)

    parse_vs_floor = _ratio(batch.timings[OURS].best_us, batch.timings[FLOOR].best_us)
    pywa = batch.timings.get(PYWA)
    parse_vs_pywa = _ratio(batch.timings[OURS].best_us, pywa.best_us if pywa else None)
    print(
        f"\nTarget: hot path within {PARSE_TARGET:.1f}x the floor on the batched webhook:"
        f" {_x(parse_vs_floor)} {_verdict(parse_vs_floor, PARSE_TARGET)}."
        f" Against pywa: {_x(parse_vs_pywa)} (below 1 means ours is faster)."
    )
    if args.profile or parse_vs_floor is None or parse_vs_floor > PARSE_TARGET:
        print_profile(batch.webhook, stages[contenders.NORMALIZE_STAGE].best_us)

    with cold_import.overlay() as overlay_dir:
        if args.built is None:
            layout = cold_import.source_layout()
        else:
            layout = cold_import.built_layout(args.built.resolve(), Path(overlay_dir))
        targets, runs = cold_import.measure(layout, args.runs, args.import_budget)
        print(f"\nCold imports from the {layout.name}.")
        for layout_note in layout.notes:
            print(f"  {layout_note}")
        imports = print_cold_imports(targets, runs)
        works, first_call, history = run_work(layout, runs) if args.work else ([], None, None)
    print(f"\n(run took {time.perf_counter() - started:.0f} s)")
    loads = [load for load in (load_before, load_average()) if load is not None]
    if note := busy_note(max(loads, default=None)):
        print(note)
    # The last line, alone and whole, for whatever reads the figures by machine.
    summary = {
        "parse_vs_floor": parse_vs_floor,
        "parse_vs_pywa": parse_vs_pywa,
        "cold_import_vs_boto3": imports,
        "cold_import_layout": "built" if args.built is not None else "source",
        "first_call_vs_import": {cold_import.ACK_FUNCTION: first_call} if first_call is not None else None,
        "aws_calls": {w["name"]: w["aws_calls"] for w in works if not w.get("collector")} or None,
        "write_units": {w["name"]: w["write_units"] for w in works if not w.get("collector")} or None,
        "ack_path_calls": {w["name"]: w["ack_path_calls"] for w in works if not w.get("collector")} or None,
        # the analytics aggregator's write units per event, over spans of one contact's first events
        "history_write_units": (
            {span: figures["write_units"] for span, figures in history["per_event"].items()}
            if history
            else None
        ),
    }
    if args.cost_doc is not None:
        from . import cost

        page = {
            **summary,
            "work": works,
            "history": history,
            "measured": time.strftime("%Y-%m-%d", time.gmtime()),
            "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
        }
        cost.write(args.cost_doc, page)
        print(f"(wrote {args.cost_doc})")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
