"""Attribution within one tenant (docs/tenants.md): an order is matched only to that tenant's contacts.

A listed tenant's contacts are stored under keys scoped to it ("<tenant>~<phone>"); the default
tenant's under today's unscoped keys. This view of the contact history turns the keys an order gives
(phones, an email's contacts, a link token's contact) into the tenant's own, and drops any other
tenant's, so the engine itself knows nothing of tenants.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..tenants import scoped_key, split_key
from .engine import ContactHistory


class TenantHistory:
    def __init__(self, history: ContactHistory, scope: str) -> None:
        self._history = history
        self._scope = scope

    def _own(self, key: str) -> str | None:
        scope, bare = split_key(key)
        if scope:
            return key if scope == self._scope else None
        return scoped_key(self._scope, bare)

    def find_contact(self, contact_keys: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
        own = [key for key in map(self._own, contact_keys) if key is not None]
        return self._history.find_contact(own) if own else None

    def link_token(self, token: str) -> dict[str, Any] | None:
        link = self._history.link_token(token)
        if link is None or self._own(str(link.get("contact_key", ""))) != link.get("contact_key"):
            return None  # another tenant's link: unknown here
        return link

    def contacts_with_email(self, email: str) -> list[str]:
        return [key for key in self._history.contacts_with_email(email) if self._own(key) == key]

    def referrals(self, contact_key: str) -> list[dict[str, Any]]:
        return self._history.referrals(contact_key)

    def inbound_between(self, contact_key: str, start: int, end: int) -> bool:
        return self._history.inbound_between(contact_key, start, end)
