"""store/keys.py is the one home of the table's keys and the dedupe markers' ids (docs/idempotency.md),
and store/dynamo.UpdateBuilder the one writer of update expressions: both checked on the source."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from wa_conversions.store import keys
from wa_conversions.store.dynamo import UpdateBuilder

PACKAGE = Path(keys.__file__).resolve().parents[1]
KEYS_MODULE = Path(keys.__file__).resolve()
_HOLE = "\x00"


def _key_prefixes() -> set[str]:
    """Every "<WORD>#" a key of keys.py starts with, found by building each key with a placeholder."""
    found = {keys.marker_id(namespace, _HOLE) for namespace in keys.MARKER_NAMESPACES}
    for name, function in inspect.getmembers(keys, inspect.isfunction):
        if name.startswith("_") or function.__module__ != keys.__name__ or "_of" in name:
            continue  # the readers (contact_key_of...) take a key apart rather than build one
        parameters = inspect.signature(function).parameters.values()
        built = function(*(_placeholder(p.annotation) for p in parameters))
        found.update(built if isinstance(built, tuple | list) else [built])
    found |= {value for value in vars(keys).values() if isinstance(value, str)}
    prefixes = set()
    for key in found:
        head, hash_sign, _ = key.partition("#")
        if hash_sign and head.replace("-", "").isalpha():
            prefixes.add(head + hash_sign)
    return prefixes


def _placeholder(annotation: object) -> object:
    if annotation in {"int", int}:
        return 0
    if annotation == "date":
        return date(2026, 1, 1)
    return _HOLE


def _docstrings(tree: ast.Module) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _literals(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of each string literal in code, the literal parts of f-strings included."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.resolve() != KEYS_MODULE)


def _spelt_prefixes(path: Path, prefixes: set[str], root: Path = PACKAGE) -> list[str]:
    return [
        f"{path.relative_to(root)}:{line}: {text!r}"
        for line, text in _literals(path)
        if any(text.startswith(prefix) for prefix in prefixes)
    ]


def test_the_prefixes_come_from_keys_py_itself() -> None:
    prefixes = _key_prefixes()
    assert {"CONTACT#", "MSG#", "ORDER#", "DELIVERY#", "DAY#", "ANALYTICS#"} <= prefixes
    assert {"capture#", "erased#", "shopify-event#", "analytics#"} <= prefixes


def test_no_module_but_keys_py_spells_a_key_prefix() -> None:
    prefixes = _key_prefixes()
    spelt = [hit for path in _modules() for hit in _spelt_prefixes(path, prefixes)]
    assert spelt == []


def test_the_rule_catches_an_inline_key(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('"""CONTACT#<key> in a docstring is fine."""\npk = f"CONTACT#{key}"\nsk = "PROFILE"\n')
    assert _spelt_prefixes(sample, _key_prefixes(), root=tmp_path) == ["sample.py:2: 'CONTACT#'"]


def _update_expressions(path: Path, root: Path = PACKAGE) -> list[str]:
    """Update expressions written by hand: an UpdateExpression keyword or dict key outside the builder."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "UpdateExpression":
            found.append(f"{path.relative_to(root)}:{node.value.lineno}")
        if isinstance(node, ast.Constant) and node.value == "UpdateExpression":
            found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_every_update_expression_is_built_by_update_builder() -> None:
    builder = Path(inspect.getfile(UpdateBuilder)).resolve()
    hand_built = [
        hit for path in _modules() if path.resolve() != builder for hit in _update_expressions(path)
    ]
    assert hand_built == []


def test_the_rule_catches_a_hand_written_update_expression(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'client.update_item(UpdateExpression="ADD #c :c")\n'
        'action = {"Update": {"UpdateExpression": "REMOVE #part"}}\n'
    )
    assert _update_expressions(sample, root=tmp_path) == ["sample.py:1", "sample.py:2"]


def test_the_builder_writes_set_add_remove_and_a_condition_in_one_call() -> None:
    update = UpdateBuilder().set("status", "pending").set_if_absent("created_at", 5).add("attempts", 1)
    update.remove("reason")
    update.condition(f"{update.name_token('status')} <> {update.value_token('delivered')}")
    call = update.kwargs()
    names, values = call["ExpressionAttributeNames"], call["ExpressionAttributeValues"]
    assert call["UpdateExpression"].startswith("SET ") and " REMOVE " in call["UpdateExpression"]
    assert sorted(names.values()) == ["attempts", "created_at", "reason", "status", "status"]
    assert {"S": "delivered"} in values.values() and {"N": "0"} in values.values()
    assert call["ConditionExpression"].endswith(
        "<> " + next(k for k, v in values.items() if v == {"S": "delivered"})
    )


def test_increment_is_dynamodbs_add_between_set_and_remove() -> None:
    update = UpdateBuilder().set("day", "2025-06-18").increment("05|sent", 1).increment("05|revenue", 12.5)
    update.remove("pending#3#0")
    call = update.kwargs()
    names, values = call["ExpressionAttributeNames"], call["ExpressionAttributeValues"]
    set_clause, add_clause, remove_clause = (
        call["UpdateExpression"].replace(" ADD ", "|").replace(" REMOVE ", "|").split("|")
    )
    assert set_clause.startswith("SET ") and remove_clause.startswith("#")
    added = [pair.split(" ") for pair in add_clause.split(", ")]
    assert [(names[name], values[token]) for name, token in added] == [
        ("05|sent", {"N": "1"}),
        ("05|revenue", {"N": "12.5"}),
    ]


def test_a_builder_with_no_values_leaves_the_empty_map_out() -> None:
    call = UpdateBuilder().remove("lease_until").kwargs()
    assert call["UpdateExpression"] == "REMOVE #n0"
    assert "ExpressionAttributeValues" not in call
