"""What the reliability phases share: the run's sizes, its figures, the personal data it posted, the
captured output of the local stack, and signed requests as the providers send them.

The sizes come from RELIABILITY: "short" (the default, what `make test` runs) or "full" (`make
reliability`). RELIABILITY_SEED makes a run's random choices repeatable; RELIABILITY_OUTPUT keeps its
logs in that folder.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import os
import random
import string
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from devstack.envfile import parse_env_file
from devstack.shopify_samples import shopify_headers
from devstack.stack import DevStack
from tests.support import attribution as sc
from tests.support import webhooks as wh
from wa_conversions.signatures import meta_signature

ROOT = Path(__file__).resolve().parents[2]
ENV = parse_env_file(ROOT / "local.env")
DAY = 86_400
# Every request of the run targets the local stack; no test waits longer than this for one answer.
CLIENT_TIMEOUT_S = 60.0
# local.env keys whose values are secrets (they become SSM SecureStrings): never in any output.
SECRET_KEY_MARKERS = ("SECRET", "TOKEN", "API_KEY", "WRITE_KEY")
DESTINATIONS = ("wax", "meta", "cm", "dialog360")
FORWARDERS = {
    "wax": "WaxForwarderFunction",
    "meta": "MetaCapiForwarderFunction",
    "cm": "CmConversionsForwarderFunction",
    "dialog360": "Dialog360ForwarderFunction",
}
QUEUES = {
    "wax": "WaxQueue",
    "meta": "MetaCapiQueue",
    "cm": "CmConversionsQueue",
    "dialog360": "Dialog360Queue",
}
DLQS = {"wax": "WaxDLQ", "meta": "MetaCapiDLQ", "cm": "CmConversionsDLQ", "dialog360": "Dialog360DLQ"}


# -- sizes -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    mode: str
    inbound: int  # inbound messages, half in single-update webhooks, half in batches
    statuses: int  # status updates (two per outbound message: sent, delivered), split the same way
    batch: int  # updates per batched webhook
    big_webhook: int  # updates in the one large webhook
    big_text: int  # characters of text per message of the large webhook (about 2.6 KB an update)
    redelivered: float  # share of single-update webhooks posted twice, as providers redeliver
    clients: int
    burst_drain_s: float
    orders: int
    fault_share: float
    fault_drain_s: float
    crash_inbound: int
    processor_kills: int
    forwarder_orders: int
    forwarder_kills: int
    crash_drain_s: float
    fuzz_unauthenticated: int
    fuzz_authenticated: int

    @property
    def burst_updates(self) -> int:
        return self.inbound + self.statuses + self.big_webhook


SHORT = Sizes(
    mode="short",
    inbound=40,
    statuses=40,
    batch=20,
    big_webhook=100,
    big_text=2_300,
    redelivered=0.1,
    clients=16,
    burst_drain_s=150,
    orders=12,
    fault_share=0.3,
    fault_drain_s=120,
    crash_inbound=40,
    processor_kills=2,
    forwarder_orders=0,
    forwarder_kills=0,
    crash_drain_s=90,
    fuzz_unauthenticated=80,
    fuzz_authenticated=120,
)
FULL = Sizes(
    mode="full",
    inbound=1000,
    statuses=1000,
    batch=100,
    big_webhook=1000,
    big_text=2_300,
    redelivered=0.1,
    clients=16,
    burst_drain_s=900,
    orders=150,
    fault_share=0.3,
    fault_drain_s=420,
    crash_inbound=200,
    processor_kills=3,
    forwarder_orders=20,
    forwarder_kills=3,
    crash_drain_s=360,
    fuzz_unauthenticated=700,
    fuzz_authenticated=1400,
)


def selected_sizes() -> Sizes:
    mode = os.environ.get("RELIABILITY", "short").strip().lower()
    if mode not in ("short", "full"):
        raise ValueError(f"RELIABILITY must be short or full, not {mode!r}")
    return FULL if mode == "full" else SHORT


# -- figures -----------------------------------------------------------------------------------------


class Figures:
    """What each phase measured, and which of its checks failed, for the one JSON line at the end."""

    def __init__(self, mode: str, seed: int) -> None:
        self.values: dict[str, Any] = {"mode": mode, "seed": seed}
        self.failed: list[str] = []
        self._lock = threading.Lock()

    def record(self, phase: str, **values: Any) -> None:
        with self._lock:
            self.values.setdefault(phase, {}).update(values)

    def check(self, phase: str, name: str, ok: bool, detail: str) -> bool:
        """Notes a failed check by name; the phase's test asserts on all of them at once."""
        if not ok:
            with self._lock:
                self.failed.append(f"{phase}.{name}: {detail}")
        return ok

    def failures(self, phase: str) -> list[str]:
        with self._lock:
            return [item for item in self.failed if item.startswith(phase + ".")]

    def assert_phase(self, phase: str) -> None:
        failures = self.failures(phase)
        assert not failures, f"{phase}: {len(failures)} check(s) failed:\n  " + "\n  ".join(failures)

    def line(self) -> str:
        with self._lock:
            return json.dumps({**self.values, "failed": list(self.failed)}, sort_keys=True, default=str)


# -- personal data posted, to look for in the output ------------------------------------------------


class Pii:
    """Phones, emails, names and message texts the run posted, kept to scan the output for."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._lock = threading.Lock()
        self.phones: set[str] = set()
        self.emails: set[str] = set()
        self.names: set[str] = set()
        self.texts: set[str] = set()

    def phone(self) -> str:
        """A fresh US wa_id (E.164 digits, valid for libphonenumber), noted with its other spellings."""
        with self._lock:
            while True:
                area = self._rng.choice(("415", "650", "212", "312", "617", "206"))
                exchange = self._rng.randint(200, 999)
                line = self._rng.randint(0, 9999)
                digits = f"1{area}{exchange}{line:04d}"
                if digits not in self.phones:
                    self.phones.add(digits)
                    return digits

    def name(self) -> str:
        """A name nothing else in the output can hold by chance (letters only, like a real one)."""
        letters = string.ascii_lowercase
        with self._lock:
            first = "Zor" + "".join(self._rng.choice(letters) for _ in range(7))
            last = "Quil" + "".join(self._rng.choice(letters) for _ in range(7))
            full = f"{first.capitalize()} {last.capitalize()}"
            self.names.update({full, first.capitalize(), last.capitalize()})
            return full

    def email(self) -> str:
        with self._lock:
            token = "".join(self._rng.choice(string.ascii_lowercase) for _ in range(10))
            address = f"buyer.{token}@example.com"
            self.emails.add(address)
            return address

    def text(self, length: int = 0) -> str:
        """A message text: a unique word in a phrase, padded with filler words to `length` characters."""
        with self._lock:
            token = "".join(self._rng.choice(string.ascii_lowercase) for _ in range(12))
            self.texts.add(token)
        phrase = f"hello it is me {token} about my order"
        if length > len(phrase):
            filler = " lorem ipsum dolor sit amet"
            phrase += (filler * (length // len(filler) + 1))[: length - len(phrase)]
        return phrase

    def snapshot(self) -> dict[str, set[str]]:
        """What was posted, by kind: phones as E.164 digits, the names' words, the texts' unique words."""
        with self._lock:
            names = {part for full in self.names for part in full.split()}
            return {
                "phone": set(self.phones),
                "email": set(self.emails),
                "name": names,
                "text": set(self.texts),
            }


def secrets() -> set[str]:
    return {
        value for key, value in ENV.items() if value and any(marker in key for marker in SECRET_KEY_MARKERS)
    }


def national(digits: str) -> str:
    """How a US buyer types the number at checkout: (415) 555-0123."""
    rest = digits[1:]
    return f"({rest[:3]}) {rest[3:6]}-{rest[6:]}"


# -- the local stack's output ------------------------------------------------------------------------


class CapturedOutput(io.TextIOBase):
    """A log stream for the functions' output that many forwarding threads write to at once."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._file = path.open("w", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            if not self._file.closed:
                self._file.write(text)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()
        super().close()


# -- ids and requests --------------------------------------------------------------------------------


def wamid(rng: random.Random) -> str:
    """A wamid as Meta makes them: base64, so about half hold "/" and many "+" or "="."""
    return "wamid." + base64.b64encode(rng.randbytes(rng.choice((30, 31, 32)))).decode("ascii")


def message_path(message_id: str) -> str:
    return "/messages/" + quote(message_id, safe="")


def meta_headers(body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": meta_signature(body, ENV["WHATSAPP_APP_SECRET"]),
    }


def operator_headers() -> dict[str, str]:
    return {"X-Api-Key": ENV["API_KEY"]}


def signed_shopify(payload: dict[str, Any], topic: str = "orders/create") -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode("utf-8")
    headers = shopify_headers(
        body, ENV["SHOPIFY_WEBHOOK_SECRET"], shop=ENV["SHOPIFY_SHOP_DOMAIN"], topic=topic
    )
    return body, headers


def inbound_value(
    pii: Pii, rng: random.Random, phone: str, name: str, at: int, text_length: int = 0
) -> tuple[dict[str, Any], str]:
    message_id = wamid(rng)
    value = {
        "contacts": [wh.contact(phone, name=name)],
        "messages": [wh.text_message(message_id, phone, at, body=pii.text(text_length))],
    }
    return value, message_id


def merged(values: list[dict[str, Any]]) -> dict[str, Any]:
    """One change's value holding all these updates, as Meta batches them (contacts once each)."""
    value: dict[str, list[Any]] = {}
    seen: set[str] = set()
    for each in values:
        for key, items in each.items():
            for item in items:
                if key == "contacts":
                    if item.get("wa_id") in seen:
                        continue
                    seen.add(item.get("wa_id"))
                value.setdefault(key, []).append(item)
    return value


def status_value(message_id: str, state: str, at: int, phone: str) -> dict[str, Any]:
    return {"statuses": [wh.status(message_id, state, at, phone)]}


def click_webhook(pii: Pii, rng: random.Random, phone: str, name: str, clid: str, at: int) -> bytes:
    click = {
        "source_url": "https://fb.me/3cr4Wqqkv",
        "source_id": "120226305854810726",
        "source_type": "ad",
        "headline": "Chat with us",
        "media_type": "image",
        "ctwa_clid": clid,
    }
    document = wh.webhook(
        {
            "contacts": [wh.contact(phone, name=name)],
            "messages": [wh.text_message(wamid(rng), phone, at, body=pii.text(), referral=click)],
        }
    )
    return wh.encode(document)


def shopify_order(order_id: int, phone: str, name: str, email: str, created_at: int) -> dict[str, Any]:
    """The REST fixture's order, renumbered, placed at `created_at`, by this buyer (every personal
    field the fixture holds is replaced, so a leak of any of them shows in the scan)."""
    order = sc.order(order_id=order_id, created_at=created_at, phone=national(phone), where="customer")
    first, last = name.split(" ", 1)
    order["email"] = order["customer"]["email"] = email
    order["contact_email"] = email
    order["customer"]["first_name"], order["customer"]["last_name"] = first, last
    for address in (
        order["billing_address"],
        order["shipping_address"],
        order["customer"]["default_address"],
    ):
        address.update({"first_name": first, "last_name": last, "name": name})
    return copy.deepcopy(order)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat()


# -- concurrency and waiting -------------------------------------------------------------------------


def run_concurrently(clients: int, base_url: str, jobs: Iterable[Callable[[httpx.Client], Any]]) -> list[Any]:
    """Runs each job with an httpx client of its thread's own, `clients` threads at a time."""
    local = threading.local()
    made: list[httpx.Client] = []
    made_lock = threading.Lock()

    def client() -> httpx.Client:
        found = getattr(local, "client", None)
        if found is None:
            found = httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT_S)
            local.client = found
            with made_lock:
                made.append(found)
        return found

    try:
        with ThreadPoolExecutor(max_workers=clients, thread_name_prefix="reliability") as pool:
            return list(pool.map(lambda job: job(client()), list(jobs)))
    finally:
        for each in made:
            each.close()


def post_until_accepted(
    client: httpx.Client, path: str, body: bytes, headers: dict[str, str], attempts: int = 3
) -> tuple[int | None, int]:
    """Posts like a provider: again after a non-200 or no answer, a bounded number of times.
    Returns the last status (None: no answer) and how many attempts it took."""
    status: int | None = None
    for attempt in range(1, attempts + 1):
        try:
            status = client.post(path, content=body, headers=headers).status_code
        except httpx.HTTPError:
            status = None
        if status == 200:
            return status, attempt
        time.sleep(0.2 * attempt)
    return status, attempts


def drain(stack: DevStack, timeout: float) -> tuple[bool, float, str]:
    """Waits for the stack to go idle; (drained, seconds waited, what was still pending)."""
    started = time.monotonic()
    try:
        stack.wait_until_idle(timeout=timeout, interval=0.2)
    except TimeoutError as error:
        return False, time.monotonic() - started, str(error)
    return True, time.monotonic() - started, ""


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


@dataclass
class Counter:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, amount: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + amount


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
