"""How long each kind of record is kept: the expiry (epoch seconds) every write puts in the table's TTL
attribute, expires_at (README, "Retention").

DynamoDB removes an item some time after its TTL passes (docs.aws.amazon.com/amazondynamodb/latest/
developerguide/TTL.html), so a reader that must not see an expired record checks the time itself.
Messages keep MessageRetentionDays from their own timestamp (capture.service); link tokens keep
LinkTokenDays plus attribution.links.EXPIRED_KEPT_SECONDS; the dedupe ledgers in the idempotency
table keep their own windows (IDEMPOTENCY_TTL_SECONDS, EVENT_MARKER_TTL_SECONDS, ANALYTICS_DEDUPE_DAYS).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

DAY_SECONDS = 86_400
TTL_ATTRIBUTE = "expires_at"


@dataclass(frozen=True, slots=True)
class Retention:
    """Days per kind; the defaults are the template's (template.yaml, "*RetentionDays")."""

    contact_days: int = 730
    referral_days: int = 400
    order_days: int = 730
    delivery_days: int = 400
    analytics_state_days: int = 400
    analytics_counter_days: int = 1096

    @staticmethod
    def _at(days: int, since: int | None) -> int:
        return (int(time.time()) if since is None else int(since)) + days * DAY_SECONDS

    def contact_expiry(self, since: int | None = None) -> int:
        """A contact, its user-id alias and its emails: from the last time it was seen."""
        return self._at(self.contact_days, since)

    def contact_kept(self, expires_at: object) -> bool:
        """Whether a contact's stored expiry is recent enough not to be written again for a sighting:
        within a day before what a write now would set (contact_days is at least 30, config.py), and
        not after it (a retention lowered since is applied at the next sighting). So a status of a
        known contact writes no profile, and a contact is kept from its last sighting to within a day."""
        fresh = self.contact_expiry()
        # a few minutes' slack: the clocks of two invocations may differ a little
        return isinstance(expires_at, int | float) and fresh - DAY_SECONDS <= expires_at <= fresh + 300

    def referral_expiry(self, since: int | None = None) -> int:
        """An ad click or one of Meta's automatic events: from when it happened."""
        return self._at(self.referral_days, since)

    def order_expiry(self, since: int | None = None) -> int:
        """An order, its follow-ups, an off-thread event: from when it was stored."""
        return self._at(self.order_days, since)

    def delivery_expiry(self, since: int | None = None) -> int:
        """A delivery and a destination's reference: from its last change."""
        return self._at(self.delivery_days, since)

    def analytics_state_expiry(self, since: int | None = None) -> int:
        """A contact's analytics state: from the last event counted for it."""
        return self._at(self.analytics_state_days, since)

    def analytics_counter_expiry(self, since: int) -> int:
        """A day's aggregate counters: from that day, so every shard of it expires together."""
        return self._at(self.analytics_counter_days, since)


DEFAULT_RETENTION = Retention()
