"""An order's website facts as the record Meta's website events are built from: only what is known."""

from __future__ import annotations

from wa_conversions.models.commerce import WebFacts


def test_the_record_holds_every_known_fact_by_its_name() -> None:
    facts = WebFacts(
        first_name="Bob",
        last_name="Norman",
        city="Ottawa",
        state="ON",
        zip="K2P 1L4",
        country="CA",
        landing_site="/?wac=Kx3k9QzLw0aB",
        client_ip="216.191.105.146",
        user_agent="Mozilla/5.0",
        fbc="fb.1.1554763741205.AbCdEf",
        fbp="fb.1.1558571054389.1098115397",
    )
    assert facts.as_record() == {
        "first_name": "Bob",
        "last_name": "Norman",
        "city": "Ottawa",
        "state": "ON",
        "zip": "K2P 1L4",
        "country": "CA",
        "landing_site": "/?wac=Kx3k9QzLw0aB",
        "client_ip": "216.191.105.146",
        "user_agent": "Mozilla/5.0",
        "fbc": "fb.1.1554763741205.AbCdEf",
        "fbp": "fb.1.1558571054389.1098115397",
    }


def test_facts_missing_or_empty_are_left_out() -> None:
    facts = WebFacts(city="Ottawa", zip="", client_ip=None, fbp="fb.1.1558571054389.1098115397")
    assert facts.as_record() == {"city": "Ottawa", "fbp": "fb.1.1558571054389.1098115397"}
    assert WebFacts().as_record() == {}
