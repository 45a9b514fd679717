"""Every record the product writes must expire (README, "Retention"): the kinds of item in a moto table
that lack the table's TTL attribute, as template.yaml's TimeToLiveSpecification names it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A kind is named by its item_type, else by the key prefixes: never by a key's value (a phone).
_UNNAMED = "?"


def _kind(item: Mapping[str, Any]) -> str:
    item_type = item.get("item_type", {}).get("S")
    if item_type:
        return str(item_type)
    keys = [str(next(iter(item[name].values()))) for name in ("pk", "sk", "id") if name in item]
    return "/".join(key.partition("#")[0] or _UNNAMED for key in keys)


def ttl_attribute(template: Mapping[str, Any], logical_id: str) -> str:
    specification = template["Resources"][logical_id]["Properties"]["TimeToLiveSpecification"]
    assert specification["Enabled"] is True
    return str(specification["AttributeName"])


def kinds_without_ttl(client: Any, template: Mapping[str, Any], tables: Mapping[str, str]) -> dict[str, int]:
    """{"<table logical id>: <kind>": count} of the items that would be kept forever."""
    found: dict[str, int] = {}
    for logical_id, name in tables.items():
        attribute = ttl_attribute(template, logical_id)
        for page in client.get_paginator("scan").paginate(TableName=name):
            for item in page.get("Items", []):
                expiry = item.get(attribute, {}).get("N")
                if expiry is None or int(expiry) <= 0:
                    label = f"{logical_id}: {_kind(item)}"
                    found[label] = found.get(label, 0) + 1
    return found
