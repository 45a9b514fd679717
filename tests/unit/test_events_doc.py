"""docs/events.md's tables are generated from the bus's models: the committed page must say what
the models say."""

from __future__ import annotations

import pytest

from devstack import events_doc


def test_the_committed_page_is_what_the_models_generate() -> None:
    committed = events_doc.DOC.read_text(encoding="utf-8")
    assert events_doc.render(committed) == committed, (
        "docs/events.md differs from the models in layers/core/wa_conversions/models/events.py: "
        "run `make events-doc` (python -m devstack.events_doc) and commit the page"
    )


def test_every_event_and_property_of_the_contract_is_on_the_page() -> None:
    from wa_conversions.models import events as ev

    page = events_doc.DOC.read_text(encoding="utf-8")
    for name in ev.EventName:
        assert f"`{name.value}`" in page
    for model in set(ev.PROPERTIES.values()):
        for field_name, info in model.model_fields.items():
            if info.description:
                assert f"| `{info.alias or field_name}` |" in page, (model.__name__, field_name)


def test_a_page_without_its_generated_regions_is_refused() -> None:
    with pytest.raises(ValueError, match="lacks the generated regions"):
        events_doc.render("# Events on the bus\n")
    with pytest.raises(ValueError, match="unknown generated region 'nope'"):
        events_doc.render("<!-- generated: nope -->\n<!-- end: nope -->\n")


def test_a_stale_region_is_rewritten() -> None:
    committed = events_doc.DOC.read_text(encoding="utf-8")
    stale = committed.replace("| `mergedFrom` |", "| `mergedFromm` |")
    assert stale != committed
    assert events_doc.render(stale) == committed
