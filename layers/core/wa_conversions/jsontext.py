"""JSON from outside, parsed with the limits the rest of the code relies on: UTF-8 without lone
surrogates (SQS, DynamoDB and every destination refuse them) and a bounded nesting depth (deeper
documents exhaust the parser's or a later walker's recursion and would answer 5xx, not 400).

Standard library only, so any handler can import it without a cold-start cost."""

from __future__ import annotations

import json
from typing import Any, Final

# Meta's and Shopify's webhooks nest under 10 levels; 64 leaves room for any real client.
MAX_DEPTH: Final = 64


class JsonTextError(ValueError):
    """Not JSON this service can keep. The message says why without quoting the text."""


def loads(data: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed document, or JsonTextError naming the problem."""
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as error:
            raise JsonTextError(f"not valid UTF-8 (byte {error.start})") from None
    else:
        text = data
    try:
        document = json.loads(text)
    except RecursionError:
        raise JsonTextError(f"nested deeper than {max_depth} levels") from None
    except json.JSONDecodeError as error:
        raise JsonTextError(f"{error.msg} (line {error.lineno}, column {error.colno})") from None
    except ValueError:  # an integer of more digits than int() converts (sys.get_int_max_str_digits)
        raise JsonTextError("a number has too many digits") from None
    check(document, max_depth=max_depth)
    return document


def check(document: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Raises JsonTextError when a parsed document nests too deeply or holds a lone surrogate (which
    json.loads makes of a "\\ud800" escape, and text decoded with "surrogateescape" can hold)."""
    # Iterative, so that the check itself cannot run out of stack.
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict | list):
            if depth > max_depth:
                raise JsonTextError(f"nested deeper than {max_depth} levels")
            if isinstance(value, dict):
                for key, item in value.items():
                    if isinstance(key, str):
                        _check_text(key)
                    pending.append((item, depth + 1))
            else:
                pending.extend((item, depth + 1) for item in value)


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise JsonTextError(
            f"a string holds a lone surrogate (U+{ord(text[error.start]):04X}), which is not text"
        ) from None
