"""Small helpers over the low-level DynamoDB client: (de)serialising items, building updates, and
the batch calls, cut to DynamoDB's limits with their unprocessed part retried."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .. import once
from ..aws_limits import DYNAMODB_BATCH_GET_MAX, DYNAMODB_BATCH_WRITE_MAX
from ..errors import UnprocessedError

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
    from mypy_boto3_dynamodb import DynamoDBClient

# A batch call's unprocessed part is retried this many times, with exponential backoff and full
# jitter, as AWS advises (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html);
# then the caller's unit of work fails, to be retried whole by its queue (or its operator).
MAX_UNPROCESSED_ROUNDS = 8
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 5.0


def _backoff(attempt: int, sleep: Callable[[float], None]) -> None:
    if attempt + 1 == MAX_UNPROCESSED_ROUNDS:
        return  # no round follows: the caller fails now rather than after a wait
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
    sleep(random.uniform(0, ceiling))  # noqa: S311 (jitter, not a secret)


def batch_write(
    client: DynamoDBClient,
    table: str,
    requests: Sequence[dict[str, Any]],
    *,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    before_call: Callable[[], None] | None = None,
) -> None:
    """PutRequest/DeleteRequest entries to `table`, 25 a call. `what` names them in the error;
    `before_call` runs before each call (a deadline check)."""
    for start in range(0, len(requests), DYNAMODB_BATCH_WRITE_MAX):
        if before_call is not None:
            before_call()
        pending: Any = {table: list(requests[start : start + DYNAMODB_BATCH_WRITE_MAX])}
        for attempt in range(MAX_UNPROCESSED_ROUNDS):
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
            _backoff(attempt, sleep)
        else:
            raise UnprocessedError(f"DynamoDB kept {what} unprocessed")


def batch_get(
    client: DynamoDBClient,
    table: str,
    item_keys: Sequence[dict[str, Any]],
    *,
    what: str,
    projection: str | None = None,
    consistent: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict[str, Any]]:
    """The raw items found for `item_keys` (serialized keys), 100 a call, in no particular order;
    `consistent`: strongly consistent reads, which see a write that just succeeded."""
    for start in range(0, len(item_keys), DYNAMODB_BATCH_GET_MAX):
        ask: dict[str, Any] = {"Keys": list(item_keys[start : start + DYNAMODB_BATCH_GET_MAX])}
        if projection is not None:
            ask["ProjectionExpression"] = projection
        if consistent:
            ask["ConsistentRead"] = True
        pending: Any = {table: ask}
        for attempt in range(MAX_UNPROCESSED_ROUNDS):
            response = client.batch_get_item(RequestItems=pending)
            yield from response.get("Responses", {}).get(table, [])
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
            _backoff(attempt, sleep)
        else:
            raise UnprocessedError(f"DynamoDB kept {what} unprocessed")


@once
def _serializer() -> TypeSerializer:
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer()


@once
def _deserializer() -> TypeDeserializer:
    from boto3.dynamodb.types import TypeDeserializer

    return TypeDeserializer()


def _to_dynamo_value(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo_value(v) for v in value]
    return value


def serialize(value: Any) -> Any:
    return _serializer().serialize(_to_dynamo_value(value))


def to_item(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: serialize(v) for k, v in attributes.items() if v is not None}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    return value


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    deserializer = _deserializer()
    return {k: _plain(deserializer.deserialize(v)) for k, v in item.items()}


class UpdateBuilder:
    """One UpdateItem call's expression: SET, counters (add, increment), REMOVE and a condition, with the
    placeholder names and values they use. Every update in the package is built here, so that an
    attribute name never collides with a DynamoDB reserved word and a value is always serialised once."""

    def __init__(self) -> None:
        self._sets: list[str] = []
        self._adds: list[str] = []
        self._removes: list[str] = []
        self._condition: str | None = None
        # (attribute, value, once) of each SET of a plain value, and whether anything else is done
        self._assigned: list[tuple[str, Any, bool]] = []
        self._computed = False
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def _placeholders(self, attribute: str, value: Any) -> tuple[str, str]:
        index = len(self.names)
        name, token = f"#a{index}", f":v{index}"
        self.names[name] = attribute
        self.values[token] = serialize(value)
        return name, token

    def set(self, attribute: str, value: Any) -> UpdateBuilder:
        """Always overwrite. None means "leave as is": absent facts never erase known ones."""
        if value is not None:
            name, token = self._placeholders(attribute, value)
            self._sets.append(f"{name} = {token}")
            self._assigned.append((attribute, value, False))
        return self

    def set_if_absent(self, attribute: str, value: Any) -> UpdateBuilder:
        """Write once: the first writer wins, so a redelivery changes nothing."""
        if value is not None:
            name, token = self._placeholders(attribute, value)
            self._sets.append(f"{name} = if_not_exists({name}, {token})")
            self._assigned.append((attribute, value, True))
        return self

    def add(self, attribute: str, amount: int, *, start: int | None = 0) -> UpdateBuilder:
        """Count: attribute + amount, from `start` when absent (None: the attribute must exist)."""
        name, token = self.name_token(attribute), self.value_token(amount)
        current = name if start is None else f"if_not_exists({name}, {self.value_token(start)})"
        self._sets.append(f"{name} = {current} + {token}")
        self._computed = True
        return self

    def increment(self, attribute: str, amount: float) -> UpdateBuilder:
        """DynamoDB's ADD clause: a number attribute + amount, from 0 when absent. Shorter than add's
        SET, for items with many counters: an expression is at most 4 KB
        (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-expression-parameters)."""
        name, token = self._placeholders(attribute, amount)
        self._adds.append(f"{name} {token}")
        self._computed = True
        return self

    def remove(self, attribute: str) -> UpdateBuilder:
        self._removes.append(self.name_token(attribute))
        self._computed = True
        return self

    def changes(self, item: dict[str, Any]) -> bool:
        """Whether this update would change `item` (as from_item reads it): a value it sets differs,
        or an attribute it writes once is absent. A counter or a removal always changes it."""
        if self._computed:
            return True
        return any(
            attribute not in item if once else item.get(attribute) != _plain(value)
            for attribute, value, once in self._assigned
        )

    def condition(self, expression: str) -> UpdateBuilder:
        """The call's ConditionExpression, written with this builder's name_token and value_token."""
        self._condition = expression
        return self

    def copy(self) -> UpdateBuilder:
        clone = UpdateBuilder()
        clone._sets = list(self._sets)
        clone._adds = list(self._adds)
        clone._removes = list(self._removes)
        clone._condition = self._condition
        clone._assigned = list(self._assigned)
        clone._computed = self._computed
        clone.names = dict(self.names)
        clone.values = dict(self.values)
        return clone

    def value_token(self, value: Any) -> str:
        token = f":v{len(self.names)}x{len(self.values)}"
        self.values[token] = serialize(value)
        return token

    def stored_value_token(self, value: Any) -> str:
        """A value exactly as DynamoDB returned it (already typed), for a condition that it is unchanged."""
        token = f":s{len(self.names)}x{len(self.values)}"
        self.values[token] = value
        return token

    def name_token(self, attribute: str) -> str:
        name = f"#n{len(self.names)}"
        self.names[name] = attribute
        return name

    @property
    def expression(self) -> str:
        clauses = []
        if self._sets:
            clauses.append("SET " + ", ".join(self._sets))
        if self._adds:
            clauses.append("ADD " + ", ".join(self._adds))
        if self._removes:
            clauses.append("REMOVE " + ", ".join(self._removes))
        return " ".join(clauses)

    def kwargs(self) -> dict[str, Any]:
        """UpdateItem's expression arguments; an empty map is left out, as DynamoDB rejects one."""
        found: dict[str, Any] = {"UpdateExpression": self.expression}
        if self._condition is not None:
            found["ConditionExpression"] = self._condition
        if self.names:
            found["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            found["ExpressionAttributeValues"] = dict(self.values)
        return found
