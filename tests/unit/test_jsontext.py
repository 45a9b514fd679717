"""JSON from outside parsed with the service's limits: UTF-8 text without lone surrogates, nesting up
to a bound, and errors that say why without quoting the text."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support import webhooks as wh
from wa_conversions import jsontext
from wa_conversions.jsontext import MAX_DEPTH, JsonTextError

PHONE = "4915112345678"


def nested_lists(levels: int) -> str:
    return "[" * levels + "]" * levels


def nested_objects(levels: int) -> Any:
    """A parsed document `levels` objects deep, built without recursion."""
    document: Any = {}
    for _ in range(levels - 1):
        document = {"a": document}
    return document


def test_a_provider_webhook_parses_the_same_from_bytes_bytearray_or_text() -> None:
    raw = wh.sample("meta_docs_text_message_ctwa_referral.json")
    expected = json.loads(raw)

    assert jsontext.loads(raw) == expected
    assert jsontext.loads(bytearray(raw)) == expected
    assert jsontext.loads(raw.decode("utf-8")) == expected


def test_non_ascii_text_and_escaped_surrogate_pairs_are_kept() -> None:
    document = jsontext.loads('{"name": "José 💬", "emoji": "\\ud83d\\ude00"}'.encode())
    assert document == {"name": "José 💬", "emoji": "😀"}


def test_bytes_that_are_not_utf8_are_refused_naming_the_offending_byte() -> None:
    with pytest.raises(JsonTextError, match=r"^not valid UTF-8 \(byte 9\)$"):
        jsontext.loads(b'{"name": \xff"}')


def test_a_syntax_error_names_where_it_is_without_quoting_the_text() -> None:
    text = f'{{\n  "phone": "{PHONE}"\n  "name": "Ana"}}'
    with pytest.raises(JsonTextError) as raised:
        jsontext.loads(text)
    assert str(raised.value) == "Expecting ',' delimiter (line 3, column 3)"
    assert PHONE not in str(raised.value)


def test_a_number_of_more_digits_than_python_converts_is_refused() -> None:
    with pytest.raises(JsonTextError, match="a number has too many digits"):
        jsontext.loads('{"value": ' + "9" * 5000 + "}")


def test_nesting_is_allowed_up_to_the_limit_and_refused_past_it() -> None:
    assert jsontext.loads(nested_lists(MAX_DEPTH)) is not None
    with pytest.raises(JsonTextError, match=f"nested deeper than {MAX_DEPTH} levels"):
        jsontext.loads(nested_lists(MAX_DEPTH + 1))


def test_a_scalar_inside_the_deepest_container_is_not_one_level_more() -> None:
    assert jsontext.loads('{"a": {"b": 1, "c": "x"}}', max_depth=2) == {"a": {"b": 1, "c": "x"}}
    with pytest.raises(JsonTextError, match="nested deeper than 2 levels"):
        jsontext.loads('{"a": {"b": []}}', max_depth=2)


def test_a_document_too_deep_for_the_parser_itself_is_refused_as_too_deep() -> None:
    with pytest.raises(JsonTextError, match="nested deeper than"):
        jsontext.loads('{"a": ' * 200_000 + "1" + "}" * 200_000)


@pytest.mark.parametrize(
    ("text", "code_point"),
    [
        ('{"text": "lone \\ud800 high"}', "U+D800"),
        ('{"lone \\udc00 key": 1}', "U+DC00"),
        ('[["fine"], {"deep": ["\\udfff"]}]', "U+DFFF"),
    ],
)
def test_a_lone_surrogate_in_a_value_or_a_key_is_refused_naming_it(text: str, code_point: str) -> None:
    with pytest.raises(JsonTextError, match=re.escape(f"lone surrogate ({code_point})")):
        jsontext.loads(text)


def test_check_refuses_text_decoded_with_surrogateescape() -> None:
    name = b"Jos\xe9".decode("utf-8", "surrogateescape")
    with pytest.raises(JsonTextError, match=r"U\+DCE9"):
        jsontext.check({"contacts": [{"profile": {"name": name}}]})


def test_check_walks_a_deep_parsed_document_without_running_out_of_stack() -> None:
    document = nested_objects(50_000)
    with pytest.raises(JsonTextError, match=f"nested deeper than {MAX_DEPTH} levels"):
        jsontext.check(document)
    jsontext.check(nested_objects(MAX_DEPTH))


def test_a_refusal_is_a_value_error_for_callers_that_catch_those() -> None:
    with pytest.raises(ValueError, match="line 1, column 1"):
        jsontext.loads("")
