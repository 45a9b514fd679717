"""PII: every line the run wrote (the functions' output and the local stack's own log, its access
log included) is searched for the phones, emails, names and message texts the run posted, and for
the secrets of local.env. A deployment's logs must hold none; nor may the local stack's."""

from __future__ import annotations

import random
import re
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from devstack.stack import DevStack
from tests.reliability.harness import (
    Figures,
    Pii,
    drain,
    inbound_value,
    message_path,
    meta_headers,
    operator_headers,
    secrets,
)
from tests.support import webhooks as wh

pytestmark = pytest.mark.reliability
PHASE = "pii"
DIGITS = re.compile(r"\d+")
US_NATIONAL = re.compile(r"\((\d{3})\) (\d{3})-(\d{4})")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
WORD = re.compile(r"[A-Za-z]+")


def leaks(path: Path, posted: dict[str, set[str]], hidden: set[str]) -> dict[str, list[str]]:
    """Where each kind of posted data shows in the file: "line N: <masked value>"."""
    found: dict[str, list[str]] = defaultdict(list)
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            values: list[tuple[str, str]] = []
            for run in DIGITS.findall(line):
                # as posted, with "+", or as CM.com writes numbers ("00" + E.164)
                if run in posted["phone"] or (run.startswith("00") and run[2:] in posted["phone"]):
                    values.append(("phone", run))
            for area, exchange, rest in US_NATIONAL.findall(line):
                if f"1{area}{exchange}{rest}" in posted["phone"]:
                    values.append(("phone", area + exchange + rest))
            values += [("email", e) for e in EMAIL.findall(line) if e in posted["email"]]
            for word in WORD.findall(line):
                if word in posted["name"]:
                    values.append(("name", word))
                elif word in posted["text"]:
                    values.append(("text", word))
            values += [("secret", s) for s in hidden if s in line]
            for kind, value in values:
                found[kind].append(f"{path.name} line {number}: {value[:3]}***")
    return found


@pytest.mark.timeout(300)
def test_no_posted_personal_data_or_secret_is_in_any_output(
    stack: DevStack,
    output_dir: Path,
    figures: Figures,
    pii: Pii,
    rng: random.Random,
) -> None:
    # Whatever ran before, the output holds at least these: a message in, then the operator reading
    # the contact by its phone and the message by its id (the access log names both in its paths).
    phone, name = pii.phone(), pii.name()
    value, message_id = inbound_value(pii, rng, phone, name, int(time.time()) - 60)
    body = wh.encode(wh.webhook(value))
    with httpx.Client(base_url=stack.api_url, timeout=60) as client:
        assert client.post("/webhooks/whatsapp", content=body, headers=meta_headers(body)).status_code == 200
        drain(stack, 60)
        assert client.get(f"/contacts/{phone}", headers=operator_headers()).status_code == 200
        assert client.get(f"/contacts/%2B{phone}", headers=operator_headers()).status_code == 200
        assert client.get(message_path(message_id), headers=operator_headers()).status_code == 200
    time.sleep(0.5)  # the workers' last lines reach the log file

    posted = pii.snapshot()
    files = sorted(output_dir.glob("*.log"))
    found: dict[str, list[str]] = defaultdict(list)
    for path in files:
        for kind, where in leaks(path, posted, secrets()).items():
            found[kind] += where
    access_lines = sum(
        1
        for line in (output_dir / "devstack.log").read_text(encoding="utf-8").splitlines()
        if "/contacts/" in line
    )
    figures.record(
        PHASE,
        bytes_scanned=sum(path.stat().st_size for path in files),
        posted={kind: len(values) for kind, values in posted.items()},
        secrets=len(secrets()),
        hits={kind: len(where) for kind, where in sorted(found.items())},
        access_log_contact_lines=access_lines,
    )
    check = figures.check
    check(PHASE, "access_log_seen", access_lines > 0, "the local stack's access log has no /contacts/ line")
    for kind in ("phone", "email", "name", "text", "secret"):
        where = found.get(kind, [])
        check(PHASE, kind, not where, f"{len(where)} hit(s), e.g. {where[:4]}")
    figures.assert_phase(PHASE)
