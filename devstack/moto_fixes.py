"""Where moto's DynamoDB differs from AWS in ways a busy local stack runs into, made to behave like AWS.

moto's TransactWriteItems deep-copies every table it touches before applying, for a rollback that
puts the whole copy back: each transaction costs time in proportion to the table (0.7 s at 5,000
items), and a cancelled transaction (a condition that failed, as every dedupe marker's repeat does)
restores the table as it was when the transaction began, undoing what other requests wrote in the
meantime. AWS isolates a transaction to its own items. Here only the transaction's items are saved
and put back, and transactions run one at a time.

moto's Query also goes through every item of the table, sorted anew, whatever the key asked for:
each query costs time in proportion to the table, and a busy stack slows down as it fills. Here a
query by the table's own hash key reads that key's items only, and no query sorts what it will sort
again itself.

moto's server also lists its own package folder (a stat per service) on every request, under the
lock that serialises all requests; the list never changes while it runs, so it is read once.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_lock = threading.Lock()
_applied = False
# The query a thread is running, if any: (table, its hash key when the query is by the table's key).
_query_scope = threading.local()


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    # The same checks, operations and errors as moto.dynamodb.models.DynamoDBBackend's, in order.
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with _lock:
        saved: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        target_items: set[tuple[str, str]] = set()

        def rollback() -> None:
            for table_name, key, attributes in reversed(saved):
                if attributes is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attributes)

        errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
        for item in transact_items:
            original_item: dict[str, Any] | None = None
            if len(list(item.keys())) > 1:
                raise TransactWriteSingleOpException
            try:
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                condition_expression = op.get("ConditionExpression")
                names = op.get("ExpressionAttributeNames")
                values = op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    attrs = op["Item"]
                    table = self.get_table(table_name)
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                unique = (str(table_name), str(dict(sorted(key.items()))))
                if unique in target_items:
                    raise MultipleTransactionsException()
                target_items.add(unique)

                current = self.get_item(table_name, key)
                if condition_expression is not None:
                    condition = get_filter_expression(condition_expression, names, values)
                    if not condition.expr(current):
                        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)
                if op_type != "ConditionCheck":
                    before = current.to_json()["Attributes"] if current is not None else None
                    saved.append((table_name, key, before))
                if op_type == "Put":
                    self.put_item(
                        table_name,
                        op["Item"],
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Delete":
                    self.delete_item(
                        table_name,
                        key,
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Update":
                    self.update_item(
                        table_name,
                        key,
                        update_expression=op["UpdateExpression"],
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                rollback()
                raise
            except ConditionalCheckFailed as error:
                errors.append(("ConditionalCheckFailed", str(error.message), original_item))
            except Exception as error:
                errors.append((type(error).__name__, str(error), original_item))
        if any(code is not None for code, _, _ in errors):
            rollback()
            raise TransactionCanceledException(errors)


def _scoped_all_items(original: Any) -> Any:
    def all_items(self: Any) -> list[Any]:
        if id(getattr(_query_scope, "table", None)) != id(self):
            return list(original(self))
        hash_key = _query_scope.hash_key
        if hash_key is not None:
            found = self.items.get(hash_key)
            if found is None:
                return []
            return list(found.values()) if self.range_key_attr else [found]
        items: list[Any] = []
        for hash_set in list(self.items.values()):
            items.extend(list(hash_set.values()) if self.range_key_attr else [hash_set])
        return items

    return all_items


def _scoped_query(original: Any) -> Any:
    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # Table.query(hash_key, range_comparison, range_objs, limit, exclusive_start_key,
        # scan_index_forward, projection_expressions, index_name, ...)
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        previous = (getattr(_query_scope, "table", None), getattr(_query_scope, "hash_key", None))
        _query_scope.table, _query_scope.hash_key = self, (None if index_name else hash_key)
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            _query_scope.table, _query_scope.hash_key = previous

    return query


def apply() -> None:
    """Patches moto in this process; call before the server handles a request. Idempotent."""
    global _applied
    if _applied:
        return
    from moto import backends
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    Table.all_items = _scoped_all_items(Table.all_items)  # type: ignore[method-assign]
    Table.query = _scoped_query(Table.query)  # type: ignore[method-assign]
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = functools.cache(lambda: modules)
    _applied = True
