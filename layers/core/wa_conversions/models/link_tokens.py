"""Where a chat's link token (attribution.links) travels and how an order's fields are searched for it:
the Shopify parser reads tokens with this, attribution issues and resolves them."""

from __future__ import annotations

import re
from typing import Any

# The query parameter and note attribute the token travels in.
PARAMETER = "wac"
TOKEN_PATTERN = re.compile(rf"(?:^|[?&#\s;,]){PARAMETER}[=:]\s*([A-Za-z0-9_-]{{12,32}})")
BARE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{12,32}$")


def tokens_in(texts: list[str | None], attributes: dict[str, Any]) -> tuple[str, ...]:
    """The link tokens an order carries: a `wac` note attribute first, then any wac=<token> in the
    given texts (landing site, referring site, attribute values, the note), in that order."""
    found: list[str] = []
    direct = attributes.get(PARAMETER)
    if isinstance(direct, str) and BARE_TOKEN.match(direct.strip()):
        found.append(direct.strip())
    for text in [*texts, *(v for v in attributes.values() if isinstance(v, str))]:
        if text:
            found.extend(match.group(1) for match in TOKEN_PATTERN.finditer(text))
    return tuple(dict.fromkeys(found))
