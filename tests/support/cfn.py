"""Reads template.yaml the way CloudFormation would, for tests that build moto resources from it, so
a table or queue in a test cannot drift from the deployed one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devstack import cfn as devstack_cfn

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return devstack_cfn.load_template(path)


def resource(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"][logical_id]
    return found


def create_table(client: Any, template: dict[str, Any], logical_id: str, name: str) -> None:
    props = resource(template, logical_id)["Properties"]
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    client.create_table(**kwargs)
