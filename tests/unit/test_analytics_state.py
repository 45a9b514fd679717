"""A contact's analytics state: what its facts imply, whatever order they arrive in."""

from __future__ import annotations

import itertools

from wa_conversions.models.contact_state import ContactState

CLICKED = 1_750_000_000
AD = "120210000000009"


def answered(facts: list[tuple[str, str, int]]) -> float:
    """The ad's answered24h counted for a contact that clicked it and got these business messages."""
    state = ContactState(contact="5215512345601")
    state.note_click("wamid.in", CLICKED, AD)
    state.note_inbound("wamid.in", CLICKED, None)
    total: dict[str, float] = {}
    for message_id, stage, ts in facts:
        state.note_outbound(message_id, stage, ts)
        for key, amount in state.settle().items():
            total[key] = total.get(key, 0) + amount
    return sum(v for k, v in total.items() if k.endswith(f"ad#{AD}#answered24h"))


def test_a_reply_that_only_failed_does_not_answer_the_ad_chat() -> None:
    for order in itertools.permutations(
        [("wamid.out", "sent", CLICKED + 60), ("wamid.out", "failed", CLICKED + 65)]
    ):
        assert answered(list(order)) == 0


def test_a_failed_reply_then_one_that_arrived_answers_it() -> None:
    facts = [
        ("wamid.out1", "failed", CLICKED + 60),
        ("wamid.out2", "sent", CLICKED + 3_600),
        ("wamid.out2", "delivered", CLICKED + 3_610),
    ]
    for order in itertools.permutations(facts):
        assert answered(list(order)) == 1


def test_a_reply_that_failed_after_it_was_delivered_still_answered() -> None:
    # a late "failed" after "delivered" (a provider's reordering) does not unsend a message
    facts = [("wamid.out", "delivered", CLICKED + 60), ("wamid.out", "failed", CLICKED + 70)]
    assert answered(facts) == 1
