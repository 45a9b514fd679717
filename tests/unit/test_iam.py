"""Least privilege: each function's role grants the DynamoDB, SSM, SQS and EventBridge actions its
code can call, and nothing more. What the code calls is read from the source (tests/support/reach.py),
so a new call without its grant, or a grant (Scan, DeleteItem...) no code path needs, fails here."""

from __future__ import annotations

import fnmatch
import shutil
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from devstack.cfn import Evaluator, PseudoParameters, load_template, resolve_parameters, to_str
from tests.support.reach import IDEMPOTENCY_TABLE, TABLE, Codebase, Reach, codebase

ROOT = Path(__file__).resolve().parents[2]
PSEUDO = PseudoParameters(stack_name="wa-conversions", region="eu-west-1")
# Every optional function created, so that every role is checked.
ALL_ON = {
    "EnableWaxDestination": "true",
    "EnableMetaDestination": "true",
    "EnableCmConversionsDestination": "true",
    "EnableDialog360Destination": "true",
    "EnableCollectorDestination": "true",
    "AutoMarkAsRead": "true",
}
TABLES = (TABLE, IDEMPOTENCY_TABLE)

# SAM policy templates a function may still use, with the actions they expand to (samtranslator's
# policy_templates.json); the resource is the queue or bus they name.
SAM_POLICY_TEMPLATES = {
    "SQSSendMessagePolicy": ["sqs:SendMessage*"],
    "SQSPollerPolicy": [
        "sqs:ChangeMessageVisibility",
        "sqs:ChangeMessageVisibilityBatch",
        "sqs:DeleteMessage",
        "sqs:DeleteMessageBatch",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
    ],
    "EventBridgePutEventsPolicy": ["events:PutEvents"],
    "SSMParameterReadPolicy": [
        "ssm:DescribeParameters",
        "ssm:GetParameters",
        "ssm:GetParameter",
        "ssm:GetParametersByPath",
    ],
    "DynamoDBCrudPolicy": [
        "dynamodb:GetItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        "dynamodb:Scan",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:BatchGetItem",
        "dynamodb:DescribeTable",
        "dynamodb:ConditionCheckItem",
    ],
    "DynamoDBReadPolicy": [
        "dynamodb:GetItem",
        "dynamodb:Scan",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:DescribeTable",
    ],
}


class Symbols:
    """Ref and GetAtt as readable names: !GetAtt Table.Arn is "arn:Table"."""

    def ref(self, logical_id: str) -> Any:
        return f"ref:{logical_id}"

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return f"{attribute.lower()}:{logical_id}"


@cache
def _template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def _evaluator(template: dict[str, Any]) -> Evaluator:
    return Evaluator(template, resolve_parameters(template, ALL_ON), PSEUDO, Symbols())


def _functions() -> dict[str, str]:
    """Function logical id -> its folder under functions/."""
    return {
        logical_id: Path(to_str(resource["Properties"]["CodeUri"])).name
        for logical_id, resource in _template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _grants(logical_id: str) -> Iterator[tuple[str, str]]:
    """(resource, action) of every Allow in the function's Policies; resources as Symbols writes them."""
    template = _template()
    evaluator = _evaluator(template)
    resource = template["Resources"][logical_id]
    assert evaluator.enabled(resource)
    for policy in evaluator.resolve(resource["Properties"].get("Policies") or []):
        assert isinstance(policy, dict), f"{logical_id}: managed policy {policy!r} grants more than it shows"
        ((name, body),) = policy.items()
        if name == "Statement":
            for statement in body:
                assert statement["Effect"] == "Allow"
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                resources = (
                    statement["Resource"]
                    if isinstance(statement["Resource"], list)
                    else [statement["Resource"]]
                )
                for action in actions:
                    for target in resources:
                        yield target, action
        elif name in SAM_POLICY_TEMPLATES:
            target = next(iter(body.values())) if isinstance(body, dict) and body else "*"
            for action in SAM_POLICY_TEMPLATES[name]:
                yield (
                    f"table:{target.removeprefix('ref:')}" if action.startswith("dynamodb:") else target,
                    action,
                )
        else:
            raise AssertionError(f"{logical_id}: SAM policy template {name} is not known to this test")


def _dynamodb_grants(logical_id: str, template: dict[str, Any]) -> set[tuple[str, str]]:
    indexes = {
        table: {
            index["IndexName"]
            for index in template["Resources"][table]["Properties"].get("GlobalSecondaryIndexes", [])
        }
        for table in TABLES
    }
    granted: set[tuple[str, str]] = set()
    for target, action in _grants(logical_id):
        if not action.startswith("dynamodb:"):
            continue
        name = target.removeprefix("arn:").removeprefix("table:")
        table, _, index = name.partition("/index/")
        assert table in TABLES, f"{logical_id}: {action} on {target}, not one of the tables"
        if index:
            assert index in indexes[table], f"{logical_id}: {action} on {target}, not an index of {table}"
            granted.add((f"{table}/index", action))
        else:
            granted.add((table, action))
    return granted


FUNCTIONS = sorted(_functions().items())


@cache
def _reach(folder: str) -> Reach:
    return codebase().reach(folder)


@pytest.mark.parametrize(("logical_id", "folder"), FUNCTIONS, ids=[f for f, _ in FUNCTIONS])
def test_each_function_may_call_exactly_the_dynamodb_actions_its_code_calls(
    logical_id: str, folder: str
) -> None:
    needed = _reach(folder).grants()

    granted = _dynamodb_grants(logical_id, _template())

    assert {"extra": sorted(granted - needed), "missing": sorted(needed - granted)} == {
        "extra": [],
        "missing": [],
    }


@pytest.mark.parametrize(("logical_id", "folder"), FUNCTIONS, ids=[f for f, _ in FUNCTIONS])
def test_each_function_may_read_exactly_its_own_secrets(logical_id: str, folder: str) -> None:
    prefix = f"arn:aws:ssm:{PSEUDO.region}:{PSEUDO.account_id}:parameter/wa-conversions/"
    granted = [(target, action) for target, action in _grants(logical_id) if action.startswith("ssm:")]

    assert {action for _, action in granted} <= {"ssm:GetParameter"}
    assert all(target.startswith(prefix) for target, _ in granted), granted
    assert {target.removeprefix(prefix) for target, _ in granted} == _reach(folder).secrets


@pytest.mark.parametrize(("logical_id", "folder"), FUNCTIONS, ids=[f for f, _ in FUNCTIONS])
def test_each_function_may_send_exactly_what_its_code_sends(logical_id: str, folder: str) -> None:
    """SQS and EventBridge actions; which queue is the template's business (its environment names it)."""
    needed = _reach(folder).messaging
    patterns = {action for _, action in _grants(logical_id) if action.startswith(("sqs:", "events:"))}

    unused = sorted(p for p in patterns if not any(fnmatch.fnmatchcase(a, p) for a in needed))
    ungranted = sorted(a for a in needed if not any(fnmatch.fnmatchcase(a, p) for p in patterns))
    assert {"unused": unused, "ungranted": ungranted} == {"unused": [], "ungranted": []}


# The one function that erases (docs/privacy.md): the ErasureFunction, off its queue, finds a person's
# items with a Scan and deletes them with BatchWriteItem; the HTTP-facing ones only ask for it.
ERASING = {"ErasureFunction": {"dynamodb:Scan"}}


def test_no_function_can_scan_or_delete_from_the_tables_but_the_erasing_one() -> None:
    template = _template()
    for logical_id in _functions():
        actions = {action for _, action in _dynamodb_grants(logical_id, template)}
        allowed = ERASING.get(logical_id, set())
        assert not actions & ({"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:*"} - allowed), logical_id


# Each forwarder and the name of its tenants' secret (wa_conversions.tenants.Tenant.secret_name).
TENANT_SECRETS = {
    "WaxForwarderFunction": "wax-api-token",
    "MetaCapiForwarderFunction": "meta-access-token",
    "CmConversionsForwarderFunction": "cm-product-token",
    "Dialog360ForwarderFunction": "dialog360-api-key",
}


def test_no_function_can_read_another_destinations_tenant_secrets() -> None:
    """The Meta forwarder cannot read a tenant's Wax, CM.com or 360dialog token, and so on."""
    prefix = f"arn:aws:ssm:{PSEUDO.region}:{PSEUDO.account_id}:parameter/wa-conversions/"
    for logical_id in _functions():
        patterns = [target for target, action in _grants(logical_id) if action == "ssm:GetParameter"]
        readable = {
            secret
            for secret in TENANT_SECRETS.values()
            if any(fnmatch.fnmatchcase(f"{prefix}tenants/brand-b/{secret}", p) for p in patterns)
        }
        own = {TENANT_SECRETS[logical_id]} if logical_id in TENANT_SECRETS else set()
        assert readable == own, logical_id


# -- the reading of the code can fail: it finds a call added to a code path -------------------------


@pytest.fixture
def copied_code(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "layers" / "core" / "wa_conversions", tmp_path / "core" / "wa_conversions")
    shutil.copytree(ROOT / "functions", tmp_path / "functions")
    return tmp_path


def test_a_scan_added_to_a_read_path_is_found(copied_code: Path) -> None:
    store = copied_code / "core" / "wa_conversions" / "store" / "capture.py"
    text = store.read_text()
    anchor = "    def get_message(self, message_id: str) -> dict[str, Any] | None:\n"
    assert anchor in text
    store.write_text(text.replace(anchor, anchor + "        self._client.scan(TableName=self._table)\n", 1))

    reach = Codebase(copied_code / "core", copied_code / "functions").reach("operator_api")

    assert (TABLE, "dynamodb:Scan") in reach.grants()
    assert (TABLE, "dynamodb:Scan") not in Codebase(copied_code / "core", copied_code / "functions").reach(
        "metrics_api"
    ).grants()


def test_a_delete_added_to_the_idempotency_markers_is_found_on_that_table(copied_code: Path) -> None:
    intake = copied_code / "core" / "wa_conversions" / "capture" / "shopify_ingest.py"
    text = intake.read_text()
    anchor = "    def mark(self, shop: str, event_id: str) -> None:\n"
    assert anchor in text
    intake.write_text(
        text.replace(anchor, anchor + "        self._client.delete_item(TableName=self._table, Key={})\n", 1)
    )

    reach = Codebase(copied_code / "core", copied_code / "functions").reach("shopify_webhook")

    assert (IDEMPOTENCY_TABLE, "dynamodb:DeleteItem") in reach.grants()
    assert (TABLE, "dynamodb:DeleteItem") not in reach.grants()
