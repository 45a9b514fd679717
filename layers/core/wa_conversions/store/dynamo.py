"""Small helpers over the low-level DynamoDB client: (de)serialising items and building updates."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer


@cache
def _serializer() -> TypeSerializer:
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer()


@cache
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
    """Collects SET clauses with their placeholder names and values for one UpdateItem call."""

    def __init__(self) -> None:
        self._sets: list[str] = []
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
        return self

    def set_if_absent(self, attribute: str, value: Any) -> UpdateBuilder:
        """Write once: the first writer wins, so a redelivery changes nothing."""
        if value is not None:
            name, token = self._placeholders(attribute, value)
            self._sets.append(f"{name} = if_not_exists({name}, {token})")
        return self

    def copy(self) -> UpdateBuilder:
        clone = UpdateBuilder()
        clone._sets = list(self._sets)
        clone.names = dict(self.names)
        clone.values = dict(self.values)
        return clone

    def value_token(self, value: Any) -> str:
        token = f":v{len(self.names)}x{len(self.values)}"
        self.values[token] = serialize(value)
        return token

    def name_token(self, attribute: str) -> str:
        name = f"#n{len(self.names)}"
        self.names[name] = attribute
        return name

    @property
    def expression(self) -> str:
        return "SET " + ", ".join(self._sets)

    def kwargs(self) -> dict[str, Any]:
        return {
            "UpdateExpression": self.expression,
            "ExpressionAttributeNames": dict(self.names),
            "ExpressionAttributeValues": dict(self.values),
        }
