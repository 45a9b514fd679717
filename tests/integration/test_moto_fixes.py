"""The local stack's moto behaves like DynamoDB where a busy stack runs into the difference: a cancelled
transaction undoes its own writes only, and a query reads what it asked for (devstack/moto_fixes.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import backends, mock_aws
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

from devstack import moto_fixes

REGION = "us-east-1"


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # The fixes patch moto's classes; the originals come back after the test.
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", DynamoDBBackend.transact_write_items)
    monkeypatch.setattr(Table, "all_items", Table.all_items)
    monkeypatch.setattr(Table, "query", Table.query)
    monkeypatch.setattr(backends, "list_of_moto_modules", backends.list_of_moto_modules)
    monkeypatch.setattr(moto_fixes, "_applied", False)
    moto_fixes.apply()
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName="t",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "g")
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "gsi1",
                    "KeySchema": [
                        {"AttributeName": "g", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def item(pk: str, sk: str = "s", **attributes: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in attributes.items()}}


def get(client: Any, pk: str, sk: str = "s") -> dict[str, Any] | None:
    found: dict[str, Any] | None = client.get_item(TableName="t", Key={"pk": {"S": pk}, "sk": {"S": sk}}).get(
        "Item"
    )
    return found


def test_a_cancelled_transaction_undoes_its_own_writes_only(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dynamodb.put_item(TableName="t", Item=item("a", v="before"))
    dynamodb.put_item(TableName="t", Item=item("taken"))
    update_item = DynamoDBBackend.update_item

    def with_a_concurrent_write(self: Any, *args: Any, **kwargs: Any) -> Any:
        # Another request lands while the transaction runs, as it does on a busy stack.
        self.put_item("t", item("other", v="written meanwhile"))
        return update_item(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", with_a_concurrent_write)
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"pk": {"S": "a"}, "sk": {"S": "s"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": "after"}},
                    }
                },
                {"Put": {"TableName": "t", "Item": item("new")}},
                {
                    "Put": {
                        "TableName": "t",
                        "Item": item("taken"),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    assert get(dynamodb, "a") == item("a", v="before")
    assert get(dynamodb, "new") is None
    assert get(dynamodb, "other") == item("other", v="written meanwhile")


def test_queries_by_key_and_by_index_find_what_they_ask_for_in_order(dynamodb: Any) -> None:
    for n in range(300):
        dynamodb.put_item(TableName="t", Item=item(f"p{n % 3}", f"s{n:03d}", g=f"g{n % 2}"))
    newest = dynamodb.query(
        TableName="t",
        KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
        ExpressionAttributeValues={":p": {"S": "p1"}, ":s": {"S": "s2"}},
        ScanIndexForward=False,
        Limit=3,
    )
    assert [i["sk"]["S"] for i in newest["Items"]] == ["s298", "s295", "s292"]
    assert newest["LastEvaluatedKey"] == {"pk": {"S": "p1"}, "sk": {"S": "s292"}}
    pages = dynamodb.get_paginator("query").paginate(
        TableName="t",
        IndexName="gsi1",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "g1"}},
        PaginationConfig={"PageSize": 40},
    )
    found = [i["sk"]["S"] for page in pages for i in page["Items"]]
    assert found == [f"s{n:03d}" for n in range(1, 300, 2)]
    assert (
        dynamodb.query(
            TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "none"}}
        )["Items"]
        == []
    )
