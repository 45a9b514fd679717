"""One contact per person in the metrics too (issue 11): when capture merges a contact into another
(contact.merged), the aggregator folds their counts, whatever order the events arrive in."""

from __future__ import annotations

import pytest

from tests.integration.test_analytics import AnalyticsHarness, metrics_of
from tests.integration.test_analytics import harness as harness  # the fixture
from tests.support import analytics_history as history
from wa_conversions.models.events import contact_merged

UID = "US.13491208655302741918"
PHONE = "16505551234"


class TestMergedCountersAreOnePersons:
    """A person first seen by phone, then by user id alone, then by both: two contact.created and
    the same ad's click under each key; once merged, the metrics count one contact, one conversation."""

    @staticmethod
    def steps() -> list[history.Step]:
        morning, noon = history.at(history.D1, "09:00:00"), history.at(history.D1, "12:00:00")
        uid = f"uid:{UID}"
        return [
            history.bus("contact.created", PHONE, morning, "p-created", source="organic"),
            history.bus("referral.captured", PHONE, morning, "p-click", messageId="w1", sourceId="AD1"),
            history.bus("contact.created", uid, noon, "u-created", source="ad"),
            history.bus("referral.captured", uid, noon, "u-click", messageId="w2", sourceId="AD1"),
            history.Step("bus", contact_merged(uid, PHONE, 0, "meta").model_dump(by_alias=True)),
        ]

    @pytest.mark.parametrize("order", ["in_order", "merge_first", "twice"])
    def test_the_merged_contact_counts_once(self, harness: AnalyticsHarness, order: str) -> None:
        steps = self.steps()
        if order == "merge_first":
            steps = [steps[-1], *steps[:-1]]
        for step in steps * (2 if order == "twice" else 1):
            harness.deliver(step)
            harness.drain(redeliver=order == "twice")
        metrics = metrics_of(harness)
        assert sum(metrics["new_contacts"].values()) == 1
        assert (metrics["ads"]["AD1"]["clicks"], metrics["ads"]["AD1"]["conversations"]) == (2, 1)
