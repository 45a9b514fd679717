"""The local settings file (local.env): template parameter overrides and the secrets put in SSM."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Final

_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r"}
_LINE: Final = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        inner = raw[1:-1]
        if raw[0] == "'":
            return inner
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), inner)
    # Unquoted values end at a " #" comment, as in docker compose and python-dotenv.
    return re.split(r"\s+#", raw, maxsplit=1)[0]


def parse_env_text(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"line {number}: expected KEY=VALUE, got {line!r}")
        values[match.group(1)] = _unquote(match.group(2))
    return values


def parse_env_file(path: str | Path) -> dict[str, str]:
    """KEY=VALUE pairs in file order; blank lines and # comments are ignored."""
    return parse_env_text(Path(path).read_text(encoding="utf-8"))


# A KEY of local.env holding {"<name under the prefix>": "<value>"}: SecureStrings whose names no KEY
# can spell (shopify/<shop domain>/admin-token), each put as /<prefix>/<name>.
NAMED_SECRETS_KEY: Final = "SECURE_PARAMETERS"


def named_secrets(prefix: str, env_values: dict[str, str]) -> dict[str, str]:
    raw = env_values.get(NAMED_SECRETS_KEY)
    if not raw:
        return {}
    try:
        document = json.loads(raw)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ValueError(f"{NAMED_SECRETS_KEY} must be a JSON object of parameter name to value")
    root = "/" + prefix.strip("/") + "/"
    return {root + str(name).strip("/"): str(value) for name, value in document.items()}


def secret_parameter_name(prefix: str, key: str) -> str:
    """The SSM name a secret has on AWS: /<prefix>/<key lower-cased, dashes for underscores>."""
    return "/" + prefix.strip("/") + "/" + key.lower().replace("_", "-")
