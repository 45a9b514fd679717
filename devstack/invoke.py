"""Run one function of a running local stack now, through its Lambda Invoke endpoint
(`POST /2015-03-31/functions/<id>/invocations`, as `sam local start-lambda` serves it), and print its
answer: what `make insights` and `make reconcile` do for the scheduled functions."""

from __future__ import annotations

import json
from typing import Any

# Past the scheduled functions' 300 s timeout, so the answer is theirs, not the client's.
TIMEOUT_SECONDS = 330.0


def invoke_and_print(api_url: str, function: str, event: dict[str, Any]) -> int:
    import httpx

    url = f"{api_url.rstrip('/')}/2015-03-31/functions/{function}/invocations"
    try:
        response = httpx.post(url, json=event, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as error:
        raise SystemExit(f"no local stack at {api_url} ({error}): start it with `make dev`") from None
    if response.status_code != 200 or response.headers.get("X-Amz-Function-Error"):
        raise SystemExit(f"{function} failed ({response.status_code}): {response.text}")
    print(json.dumps(response.json(), indent=2))
    return 0
