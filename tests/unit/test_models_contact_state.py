"""A contact's analytics state: facts merged idempotently whatever their order, the counters they
imply, the deltas settle() hands the aggregator, forgetting old facts, and storing the state in parts."""

from __future__ import annotations

import itertools
import json

from wa_conversions.models.contact_state import (
    FORGOTTEN_BEFORE_TOMBSTONES,
    MAX_FACTS,
    MAX_FORGOTTEN_AT_ONCE,
    WINDOW_SECONDS,
    Activity,
    ContactState,
    Outbound,
    Stored,
    bucket_of_time,
    day_of,
    hour_of,
    merge_deltas,
)

T0 = 1_750_237_200  # 2025-06-18T09:00:00Z
H09, H10 = "2025-06-18T09", "2025-06-18T10"
AD = "120210000000001"


def counters(state: ContactState) -> dict[str, float]:
    """Every counter the state implies, summed over its groups."""
    return merge_deltas(state.derive().values())


def test_times_are_named_by_their_utc_day_hour_and_hour_bucket() -> None:
    assert (day_of(T0), hour_of(T0), bucket_of_time(T0)) == ("2025-06-18", "09", H09)
    assert bucket_of_time(T0 - 1) == "2025-06-18T08"
    assert day_of(T0 - 9 * 3600 - 1) == "2025-06-17"


# -- merging facts ---------------------------------------------------------------------------------


def test_the_same_inbound_twice_is_one_fact_at_its_earliest_time_with_its_country() -> None:
    state = ContactState(contact="254712345678")
    state.note_inbound("wamid.1", T0 + 5, None)
    state.note_inbound("wamid.1", T0, "KE")
    state.note_inbound("wamid.1", T0 + 9, "US")
    assert state.inbound["wamid.1"].model_dump() == {"ts": T0, "country": "KE"}


def test_each_stage_of_an_outbound_keeps_its_earliest_time_and_the_first_agent_and_mode() -> None:
    state = ContactState(contact="254712345678")
    state.note_outbound("wamid.o", "read", T0 + 60)
    state.note_outbound("wamid.o", "sent", T0 + 10, agent="agent_1")
    state.note_outbound("wamid.o", "sent", T0, agent="agent_2", mode="bot")
    state.note_outbound("wamid.o", "played", T0 + 90)  # a stage it does not count
    entry = state.outbound["wamid.o"]
    assert (entry.sent, entry.delivered, entry.read, entry.failed) == (T0, None, T0 + 60, None)
    assert (entry.agent, entry.mode) == ("agent_1", "bot")


def test_an_outbound_seen_without_its_send_goes_out_at_its_earliest_stage() -> None:
    assert Outbound(delivered=T0 + 5, read=T0 + 2).reference == T0 + 2
    assert Outbound(sent=T0 + 9, read=T0).reference == T0 + 9
    assert Outbound().reference is None
    assert Outbound(failed=T0).lost and not Outbound(failed=T0, delivered=T0).lost


def test_a_contact_is_created_at_its_earliest_announcement() -> None:
    state = ContactState(contact="254712345678")
    for ts in (T0 + 5, T0, T0 + 3):
        state.note_contact_created(ts)
    assert state.created == T0


def test_a_click_keeps_its_earliest_time_and_the_ad_s_first_click_is_kept() -> None:
    state = ContactState(contact="254712345678")
    state.note_click("wamid.c2", T0 + 100, AD)
    state.note_click("wamid.c1", T0, AD)
    state.note_click("wamid.c1", T0 + 50, "other")  # a later copy does not rewrite the click
    assert state.clicks["wamid.c1"].model_dump() == {"ts": T0, "source_id": AD}
    assert state.first_clicks == {AD: T0, "other": T0 + 50}


def test_an_activity_is_kept_as_first_seen() -> None:
    state = ContactState(contact="254712345678")
    state.note_activity("e1", Activity(kind="assigned", ts=T0, agent="agent_1"))
    state.note_activity("e1", Activity(kind="assigned", ts=T0 - 5, agent="agent_9"))
    assert state.activities["e1"].agent == "agent_1"


# -- deriving counters -----------------------------------------------------------------------------


def test_every_stage_counts_in_the_hour_the_message_went_out() -> None:
    state = ContactState(contact="254712345678")
    state.note_inbound("wamid.in", T0, "KE")
    state.note_outbound("wamid.o", "sent", T0 + 3_590)
    state.note_outbound("wamid.o", "read", T0 + 3_700)  # an hour later; read implies delivered
    state.note_inbound("wamid.in2", T0 + 3_800, "KE")  # after it: a reply
    assert counters(state) == {
        f"{H09}|received": 1,
        f"{H09}|country#KE": 1,
        f"{H10}|received": 1,
        f"{H10}|country#KE": 1,
        f"{H09}|sent": 1,
        f"{H09}|delivered": 1,
        f"{H09}|read": 1,
        f"{H09}|replied": 1,
        f"{H09}|mode#unknown#sent": 1,
        f"{H09}|responses": 1,
        f"{H09}|rt#3300": 1,  # 59 min 50 s, in its 5 min bucket
    }


def test_a_failed_message_never_delivered_is_failed_and_one_delivered_is_not() -> None:
    state = ContactState(contact="254712345678")
    state.note_outbound("wamid.lost", "failed", T0)
    state.note_outbound("wamid.late", "delivered", T0)
    state.note_outbound("wamid.late", "failed", T0 + 10)
    found = counters(state)
    assert (found[f"{H09}|sent"], found[f"{H09}|delivered"], found[f"{H09}|failed"]) == (2, 1, 1)


def test_the_response_time_is_from_the_earliest_unanswered_message_to_the_next_send() -> None:
    state = ContactState(contact="254712345678")
    state.note_outbound("wamid.first", "sent", T0 - 10)  # before any message: answers nothing
    state.note_inbound("wamid.a", T0, None)
    state.note_inbound("wamid.b", T0 + 30, None)
    state.note_outbound("wamid.o1", "sent", T0 + 120, agent="agent_1")
    state.note_outbound("wamid.o2", "sent", T0 + 130)  # nothing new to answer
    state.note_inbound("wamid.c", T0 + 200, None)
    state.note_outbound("wamid.o3", "delivered", T0 + 240)  # no send seen: not a response
    state.note_outbound("wamid.o4", "sent", T0 + 260)
    derived = state.derive()
    responses = {g: {k.split("|")[1]: v for k, v in c.items() if "rt#" in k} for g, c in derived.items()}
    assert {g: r for g, r in responses.items() if r} == {
        "out:wamid.o1": {"rt#120": 1, "agentrt#agent_1#120": 1},
        "out:wamid.o4": {"rt#60": 1},
    }
    assert derived["out:wamid.o1"][f"{H09}|agent#agent_1#responses"] == 1


def test_the_service_mode_of_a_send_is_its_own_else_its_agent_else_the_latest_handoff() -> None:
    state = ContactState(contact="16505551234")
    state.note_activity("h1", Activity(kind="handoff", ts=T0 + 100, mode="bot"))
    state.note_activity("h2", Activity(kind="handoff", ts=T0 + 200, mode="agent", agent="agent_2"))
    state.note_outbound("before", "sent", T0)
    state.note_outbound("bot-time", "sent", T0 + 150)
    state.note_outbound("agent-time", "sent", T0 + 250)
    state.note_outbound("own", "sent", T0 + 260, mode="app")
    state.note_outbound("by-agent", "sent", T0 + 270, agent="agent_1")
    modes = {
        g.partition(":")[2]: [k.split("|")[1] for k in c if "mode#" in k] for g, c in state.derive().items()
    }
    assert {g: m for g, m in modes.items() if m} == {
        "before": ["mode#unknown#sent"],
        "bot-time": ["mode#bot#sent"],
        "agent-time": ["mode#agent#sent"],
        "own": ["mode#app#sent"],
        "by-agent": ["mode#agent#sent"],
    }


def test_activities_count_for_their_agent_and_a_resolution_for_its_mode() -> None:
    state = ContactState(contact="16505551234")
    state.note_activity("a", Activity(kind="assigned", ts=T0, agent="agent_1"))
    state.note_activity("h", Activity(kind="handoff", ts=T0 + 10, mode="bot"))
    state.note_activity("r1", Activity(kind="resolved", ts=T0 + 20))
    state.note_activity("r2", Activity(kind="resolved", ts=T0 + 30, agent="agent_1"))
    assert counters(state) == {
        f"{H09}|assigned": 1,
        f"{H09}|agent#agent_1#assigned": 1,
        f"{H09}|handoffs": 1,
        f"{H09}|resolved": 2,
        f"{H09}|mode#bot#resolved": 1,
        f"{H09}|agent#agent_1#resolved": 1,
        f"{H09}|mode#agent#resolved": 1,
    }


def test_an_ad_conversation_is_answered_only_by_a_reply_within_24_hours() -> None:
    for reply_after, answered in ((86_400, True), (86_401, False)):
        state = ContactState(contact="254712345678")
        state.note_click("wamid.c", T0, AD)
        state.note_outbound("wamid.o", "sent", T0 + reply_after)
        deltas = state.settle()
        assert deltas[f"{H09}|ad#{AD}#clicks"] == deltas[f"{H09}|ad#{AD}#conversations"] == 1
        assert (f"{H09}|ad#{AD}#answered24h" in deltas) is answered


def test_a_contact_clicking_one_ad_twice_is_one_conversation_and_two_clicks() -> None:
    state = ContactState(contact="447700900123")
    state.note_click("wamid.c1", T0, AD)
    state.note_click("wamid.c2", T0 + 3_600, AD)
    found = counters(state)
    assert (found[f"{H09}|ad#{AD}#clicks"], found[f"{H10}|ad#{AD}#clicks"]) == (1, 1)
    assert found[f"{H09}|ad#{AD}#conversations"] == 1 and f"{H10}|ad#{AD}#conversations" not in found


# -- settling ----------------------------------------------------------------------------------------


def test_a_fact_settled_twice_adds_nothing_the_second_time() -> None:
    state = ContactState(contact="254712345678")
    state.note_contact_created(T0)
    state.note_inbound("wamid.1", T0, "KE")
    assert state.settle() == {f"{H09}|new_contacts": 1, f"{H09}|received": 1, f"{H09}|country#KE": 1}
    state.note_inbound("wamid.1", T0, "KE")
    assert state.settle() == {}


def test_a_late_earlier_fact_moves_its_count_to_the_hour_it_belongs_to() -> None:
    state = ContactState(contact="254712345678")
    state.note_outbound("wamid.o", "delivered", T0 + 3_600)
    assert state.settle()[f"{H10}|sent"] == 1
    state.note_outbound("wamid.o", "sent", T0)  # the send, late
    deltas = state.settle()
    assert (deltas[f"{H10}|sent"], deltas[f"{H09}|sent"]) == (-1, 1)
    assert (deltas[f"{H10}|delivered"], deltas[f"{H09}|delivered"]) == (-1, 1)


def test_any_order_of_the_same_facts_settles_to_the_same_totals() -> None:
    facts = [
        ("in", "wamid.a", T0),
        ("click", "wamid.a", T0),
        ("sent", "wamid.o", T0 + 60),
        ("read", "wamid.o", T0 + 90),
        ("in", "wamid.b", T0 + 120),
    ]
    totals = []
    for order in itertools.permutations(facts):
        state = ContactState(contact="254712345678")
        parts = []
        for kind, message_id, ts in order:
            if kind == "in":
                state.note_inbound(message_id, ts, None)
            elif kind == "click":
                state.note_click(message_id, ts, AD)
            else:
                state.note_outbound(message_id, kind, ts)
            parts.append(state.settle())
        totals.append(merge_deltas(parts))
    assert all(total == totals[0] for total in totals)
    assert totals[0][f"{H09}|ad#{AD}#answered24h"] == 1 and totals[0][f"{H09}|replied"] == 1


def test_facts_older_than_the_window_are_forgotten_with_their_counts_left_standing() -> None:
    state = ContactState(contact="254712345678")
    state.note_inbound("old", T0, None)
    state.note_click("old", T0, AD)
    state.settle()
    state.note_inbound("new", T0 + WINDOW_SECONDS + 1, None)
    deltas = state.settle()
    assert list(deltas.values()) == [1]  # only the new message: the old one is not taken back
    assert (set(state.inbound), state.clicks) == ({"new"}, {})
    assert state.first_clicks == {AD: T0}  # kept for good
    assert "in:old" not in state.counted and "adconv:" + AD in state.counted


def test_a_contact_with_more_facts_than_it_keeps_forgets_its_oldest() -> None:
    state = ContactState(contact="254712345678")
    for i in range(MAX_FACTS + 2):
        state.note_inbound(f"m{i:04d}", T0 + i, None)
    assert state.settle()[f"{H09}|received"] == MAX_FACTS + 2
    assert len(state.inbound) == MAX_FACTS
    assert "m0000" not in state.inbound and "m0001" not in state.inbound and "m0002" in state.inbound


def test_merge_deltas_sums_the_parts_and_drops_what_cancels() -> None:
    assert merge_deltas([{"a": 1, "b": 2}, {"a": -1, "c": 0.5}, {}]) == {"b": 2, "c": 0.5}
    assert merge_deltas([]) == {}


# -- storing -------------------------------------------------------------------------------------------


def a_settled_contact() -> ContactState:
    state = ContactState(contact="254712345678", tenant="brand-a")
    state.note_contact_created(T0)
    state.note_inbound("wamid.in", T0, "KE")
    state.note_click("wamid.in", T0, AD)
    state.note_outbound("wamid.o", "sent", T0 + 60, agent="agent_1")
    state.note_activity("e1", Activity(kind="assigned", ts=T0 + 30, agent="agent_1"))
    state.settle()
    return state


def test_each_fact_is_one_group_with_what_was_counted_from_it() -> None:
    groups = a_settled_contact().fact_groups()
    assert set(groups) == {"in:wamid.in", "out:wamid.o", "click:wamid.in", "act:e1"}
    assert groups["click:wamid.in"] == (
        '{"counted":{"2025-06-18T09|ad#120210000000001#clicks":1.0},'
        '"fact":{"source_id":"120210000000001","ts":1750237200}}'
    )


def test_the_head_holds_the_contact_s_own_counts_and_not_the_facts() -> None:
    state = a_settled_contact()
    head = json.loads(state.head_json())
    assert head["counted"] == {
        "contact": {f"{H09}|new_contacts": 1.0},
        f"adconv:{AD}": {f"{H09}|ad#{AD}#conversations": 1.0, f"{H09}|ad#{AD}#answered24h": 1.0},
    }
    assert (head["tenant"], head["first_clicks"], head["ad_replies"]) == ("brand-a", {AD: T0}, {AD: T0 + 60})
    assert not {"version", "inbound", "outbound", "clicks", "activities"} & set(head)
    assert "wamid" not in state.head_json()


def test_the_parts_put_together_again_are_the_same_state() -> None:
    state = a_settled_contact()
    again = ContactState.from_parts(state.head_json(), state.fact_groups(), version=7)
    assert again.version == 7
    assert again.model_dump(exclude={"version"}) == {
        **state.model_dump(exclude={"version"}),
        "counted": {g: {k: float(v) for k, v in c.items()} for g, c in state.counted.items()},
    }
    assert again.settle() == {}  # nothing counted twice once loaded


def test_a_state_as_loaded_is_unchanged_until_a_fact_moves() -> None:
    state = a_settled_contact()
    state.remember(Stored())
    assert not state.changed()
    state.note_inbound("wamid.in", T0, "KE")  # known already
    assert not state.changed()
    state.note_outbound("wamid.o", "read", T0 + 90)
    assert state.changed()


def test_taking_another_s_storage_compares_with_what_it_held() -> None:
    merged = a_settled_contact()
    merged.remember(Stored(items={"out:wamid.o": "item-key"}))
    emptied = ContactState(contact=merged.contact, merged_into="16505551234")
    emptied.take_storage(merged)
    assert emptied.stored.items == {"out:wamid.o": "item-key"}
    assert emptied.changed()


def test_absorbing_a_merged_contact_takes_its_facts_earliest_times_and_counts() -> None:
    survivor = ContactState(contact="16505551234")
    survivor.note_click("w1", T0 + 500, AD)
    survivor.note_outbound("wamid.o", "delivered", T0 + 100)
    survivor.settle()
    merged = ContactState(contact="uid:US.1")
    merged.note_contact_created(T0)
    merged.note_click("w0", T0, AD)
    merged.note_outbound("wamid.o", "sent", T0 + 60, agent="agent_1")
    merged.note_activity("e1", Activity(kind="resolved", ts=T0, agent="agent_1"))
    merged.settle()

    survivor.absorb(merged)

    assert survivor.created == T0
    assert survivor.first_clicks == {AD: T0}
    assert set(survivor.clicks) == {"w0", "w1"} and set(survivor.activities) == {"e1"}
    o = survivor.outbound["wamid.o"]
    assert (o.sent, o.delivered, o.agent) == (T0 + 60, T0 + 100, "agent_1")
    # both counted one send and one conversation: the next settle takes the extra back
    deltas = survivor.settle()
    assert deltas[f"{H09}|sent"] == -1 and deltas[f"{H09}|ad#{AD}#conversations"] == -1
    assert counters(survivor)[f"{H09}|sent"] == 1


def test_what_a_settle_forgets_is_named_and_counted_for_its_tombstones() -> None:
    state = ContactState(contact="254712345678")
    state.note_inbound("old", T0, None)
    state.settle()
    assert (state.forgotten, state.forgotten_facts) == (frozenset(), 0)
    state.note_inbound("new", T0 + WINDOW_SECONDS + 1, None)
    state.settle()
    assert (state.forgotten, state.forgotten_facts) == ({"in:old"}, 1)
    state.settle()  # nothing more to forget: the next commit leaves no tombstone
    assert (state.forgotten, state.forgotten_facts) == (frozenset(), 1)


def test_a_contact_back_after_a_long_silence_forgets_its_oldest_a_few_at_a_time() -> None:
    state = ContactState(contact="254712345678")
    for i in range(MAX_FORGOTTEN_AT_ONCE + 5):
        state.note_inbound(f"m{i:04d}", T0 + i, None)
    state.settle()
    state.note_inbound("back", T0 + WINDOW_SECONDS + 3_600, None)
    state.settle()
    assert state.forgotten == {f"in:m{i:04d}" for i in range(MAX_FORGOTTEN_AT_ONCE)}  # the oldest
    state.settle()
    assert len(state.forgotten) == 5 and set(state.inbound) == {"back"}
    assert state.forgotten_facts == MAX_FORGOTTEN_AT_ONCE + 5


def test_a_head_saved_before_tombstones_is_taken_to_have_forgotten_facts() -> None:
    head = json.loads(ContactState(contact="254712345678").head_json())
    del head["forgotten_facts"]
    loaded = ContactState.from_parts(json.dumps(head), {}, version=3)
    assert loaded.forgotten_facts == FORGOTTEN_BEFORE_TOMBSTONES > 0
    fresh = ContactState.from_parts(ContactState(contact="254712345678").head_json(), {}, version=3)
    assert fresh.forgotten_facts == 0


def test_a_merge_keeps_what_either_contact_forgot() -> None:
    survivor, merged = ContactState(contact="254712345678"), ContactState(contact="uid:US.1")
    survivor.forgotten_facts, merged.forgotten_facts = 0, 2
    survivor.absorb(merged)
    assert survivor.forgotten_facts == 2
