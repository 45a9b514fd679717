"""Writes the generated parts of docs/events.md from the bus's models (models/events.py).

`python -m devstack.events_doc` (make events-doc) rewrites what lies between each pair of
`<!-- generated: NAME -->` / `<!-- end: NAME -->` markers; the prose around them is hand-written.
tests/unit/test_events_doc.py fails when the committed page differs from what the models say.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from wa_conversions.models import events as ev

DOC = Path(__file__).resolve().parent.parent / "docs" / "events.md"
_REGION = re.compile(r"(<!-- generated: (?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)", re.S)


def _properties_table(model: type[ev.Properties]) -> list[str]:
    rows = ["| property | meaning |", "|---|---|"]
    fields = list(model.model_fields.items())
    # The tenant is written last (capture stamps it after building the event).
    fields.sort(key=lambda item: item[0] == "tenant")
    for name, info in fields:
        if not info.description:
            continue  # not part of the bus's contract (POST /conversions' fields)
        written = " (present only when it applies)" if name in model.OPTIONAL and name != "tenant" else ""
        # A | in a cell would end it: Markdown tables take it escaped.
        meaning = info.description.replace("|", "\\|")
        rows.append(f"| `{info.alias or name}` | {meaning}{written} |")
    return rows


def _docstring(model: type[object]) -> str:
    return " ".join((model.__doc__ or "").split())


def envelope() -> str:
    example: dict[str, object] = {}
    for name, info in ev.LifecycleEvent.model_fields.items():
        key = info.alias or name
        if name == "context":
            example[key] = {
                "channel": "whatsapp",
                "provider": ev.EventContext.model_fields["provider"].description,
                "library": ev.LIBRARY,
                "counted": ev.EventContext.model_fields["counted"].description,
            }
        elif name == "properties":
            example[key] = {}
        elif info.description:
            example[key] = info.description
        else:
            example[key] = info.get_default()
    example["event"] = ev.EventName.MESSAGE_RECEIVED.value
    lines = ["```json", "{"]
    items = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in example.items()]
    lines.append(",\n".join(items))
    lines += ["}", "```"]
    return "\n".join(lines) + "\n"


def lifecycle() -> str:
    out: list[str] = []
    seen: set[type[ev.Properties]] = set()
    for model in ev.PROPERTIES.values():
        if model is ev.ConversionProperties or model in seen:
            continue
        seen.add(model)
        names = ", ".join(f"`{n}`" for n, m in ev.PROPERTIES.items() if m is model)
        out += [f"### {names}", "", _docstring(model), "", *_properties_table(model), ""]
    return "\n".join(out)


def conversions() -> str:
    return "\n".join([*_properties_table(ev.ConversionProperties), ""])


REGIONS: dict[str, Callable[[], str]] = {
    "envelope": envelope,
    "lifecycle": lifecycle,
    "conversions": conversions,
}


def render(text: str) -> str:
    """`text` with every generated region written anew; an unknown or missing region is an error."""
    found: set[str] = set()

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in REGIONS:
            raise ValueError(f"docs/events.md names an unknown generated region {name!r}")
        found.add(name)
        return f"{match[1]}{REGIONS[name]()}{match[4]}"

    rendered = _REGION.sub(fill, text)
    if missing := set(REGIONS) - found:
        raise ValueError(f"docs/events.md lacks the generated regions {sorted(missing)}")
    return rendered


def main(argv: list[str]) -> int:
    current = DOC.read_text(encoding="utf-8")
    rendered = render(current)
    if "--check" in argv:
        if rendered != current:
            print("docs/events.md is out of date: run make events-doc", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(rendered, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
