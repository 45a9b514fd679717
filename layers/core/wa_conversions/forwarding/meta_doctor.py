"""Checks of the Meta set-up before the first order (`make doctor`, GET /health/meta): the token, the
WABA's dataset, the token's reach to it, and the Graph API version in use; each failure names its fix
(docs/forwarding.md, "Checking the set-up").

Only reads, unless `create` is asked: then the WABA's dataset is created with POST /{waba}/dataset,
which Meta documents as idempotent ("If there is already an existing dataset_id associated with the
WhatsApp Business Account, it will return that ID").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx

from ..config import META_API_VERSION

# Graph API releases (developers.facebook.com/blog, "Introducing Graph API v..."); Meta supports every
# Conversions API version for at least two years (…/conversions-api/using-the-api).
RELEASES = {
    "v23.0": date(2025, 5, 29),
    "v24.0": date(2025, 10, 8),
    "v25.0": date(2026, 2, 18),
    "v26.0": date(2026, 7, 29),
}
# Ends Meta has announced (developers.facebook.com/docs/graph-api/changelog); none for these yet.
ANNOUNCED_ENDS: dict[str, date] = {}
PERMISSIONS = ("whatsapp_business_management", "whatsapp_business_manage_events")
CREDENTIAL_FIX = (
    "create a System User token in Business settings with whatsapp_business_management and "
    "whatsapp_business_manage_events, then store it: aws ssm put-parameter --type SecureString "
    "--overwrite --name {secret} --value <token> (locally: META_ACCESS_TOKEN in local.env)"
)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class MetaSetup:
    graph_base_url: str
    api_version: str
    waba_id: str
    dataset_id: str
    # where the token lives, for the fix text only (never the token)
    secret_name: str = "/wa-conversions/meta-access-token"  # noqa: S105 - a parameter's name


def _error(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"message": response.text[:200]}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _describe(error: dict[str, Any]) -> str:
    return f"{error.get('message')} (code {error.get('code')}, fbtrace_id {error.get('fbtrace_id')})"


def version_check(version: str, answered: str | None, today: date) -> Check:
    if answered and answered != version:
        return Check(
            "api_version",
            False,
            f"{version} requested, Meta answered as {answered}: {version} is no longer served",
            f"set MetaApiVersion={META_API_VERSION}",
        )
    ended = ANNOUNCED_ENDS.get(version)
    if ended is not None:
        state = "ended" if ended <= today else "ends"
        return Check(
            "api_version",
            ended > today,
            f"{version}: Meta announced it {state} on {ended.isoformat()}",
            f"set MetaApiVersion={META_API_VERSION}",
        )
    released = RELEASES.get(version)
    if released is None:
        newer = version > max(RELEASES)
        return Check(
            "api_version",
            newer,
            f"{version}: " + ("newer than this release knows" if newer else "older than v23.0, unsupported"),
            None if newer else f"set MetaApiVersion={META_API_VERSION}",
        )
    until = released.replace(year=released.year + 2)
    behind = sorted(RELEASES).index(META_API_VERSION) - sorted(RELEASES).index(version)
    detail = (
        f"{version}, released {released.isoformat()}, supported until at least {until.isoformat()}; "
        "no end announced"
    )
    if behind > 0:
        detail += f"; {behind} version(s) behind {META_API_VERSION}"
    return Check("api_version", True, detail, f"set MetaApiVersion={META_API_VERSION}" if behind else None)


def run_checks(
    client: httpx.Client, setup: MetaSetup, token: str, *, create: bool = False, today: date | None = None
) -> list[Check]:
    """Every check, in order; once the token is refused the others are not tried (they would only
    repeat the refusal)."""
    today = today or datetime.now(UTC).date()
    v = setup.api_version
    headers = {"Authorization": f"Bearer {token}"}
    token_fix = CREDENTIAL_FIX.format(secret=setup.secret_name)
    checks: list[Check] = []
    try:
        permissions = client.get(f"/{v}/me/permissions", headers=headers)
    except httpx.HTTPError as error:
        return [
            Check(
                "graph",
                False,
                f"cannot reach {setup.graph_base_url}: {type(error).__name__}",
                "check MetaGraphBaseUrl and the network (the local stack's stand-in: is `make dev` running?)",
            )
        ]
    answered = permissions.headers.get("facebook-api-version")
    if not token:
        checks.append(Check("token", False, "no access token is configured", token_fix))
    elif permissions.status_code != 200:
        checks.append(
            Check("token", False, f"Meta refused the token: {_describe(_error(permissions))}", token_fix)
        )
    else:
        granted = {
            p.get("permission")
            for p in (permissions.json().get("data") or [])
            if isinstance(p, dict) and p.get("status") == "granted"
        }
        missing = [p for p in PERMISSIONS if p not in granted]
        if missing:
            checks.append(
                Check(
                    "token",
                    False,
                    f"the token lacks {', '.join(missing)}",
                    f"grant {', '.join(missing)} to the System User and generate a new token; " + token_fix,
                )
            )
        else:
            checks.append(Check("token", True, "accepted, with " + " and ".join(PERMISSIONS)))
    if not checks[-1].ok and checks[-1].detail.startswith(("Meta refused", "no access token")):
        checks.append(version_check(v, answered, today))
        return checks
    checks.extend(_dataset_checks(client, setup, headers, create))
    checks.append(version_check(v, answered, today))
    return checks


def _dataset_checks(
    client: httpx.Client, setup: MetaSetup, headers: dict[str, str], create: bool
) -> list[Check]:
    v, waba = setup.api_version, setup.waba_id
    if not waba:
        return [
            Check(
                "dataset",
                False,
                "MetaWabaId is not set",
                "set MetaWabaId to the WhatsApp Business Account id (WhatsApp Manager > Account tools)",
            )
        ]
    found = client.get(f"/{v}/{waba}/dataset", headers=headers)
    if found.status_code != 200:
        return [
            Check(
                "dataset",
                False,
                f"GET /{waba}/dataset failed: {_describe(_error(found))}",
                "check MetaWabaId, and that the token's System User has the WABA as an asset",
            )
        ]
    ids = [str(d.get("id")) for d in (found.json().get("data") or []) if isinstance(d, dict) and d.get("id")]
    created = False
    if not ids and create:
        made = client.post(f"/{v}/{waba}/dataset", headers=headers)
        if made.status_code == 200 and made.json().get("id"):
            ids, created = [str(made.json()["id"])], True
        else:
            return [Check("dataset", False, f"creating the dataset failed: {_describe(_error(made))}", None)]
    if not ids:
        return [
            Check(
                "dataset",
                False,
                f"the WABA {waba} has no dataset",
                "create it: make doctor ARGS=--create (POST /{waba}/dataset, idempotent), then set "
                "MetaDatasetId to the id it prints",
            )
        ]
    dataset = ids[0]
    if setup.dataset_id != dataset:
        configured = setup.dataset_id or "empty"
        return [
            Check(
                "dataset",
                False,
                f"the WABA's dataset is {dataset}"
                + (" (created now)" if created else "")
                + f", MetaDatasetId is {configured}",
                f"set MetaDatasetId={dataset}",
            )
        ]
    checks = [
        Check("dataset", True, f"{dataset} is the WABA's dataset" + (" (created now)" if created else ""))
    ]
    reach = client.get(f"/{v}/{dataset}", params={"fields": "id,name"}, headers=headers)
    if reach.status_code == 200:
        checks.append(Check("dataset_access", True, f"the token can send events to dataset {dataset}"))
    else:
        error = _error(reach)
        fix = (
            "grant whatsapp_business_manage_events to the System User and generate a new token"
            if error.get("code") in (10, 200)
            else "share the dataset with the WhatsApp app's Business in Business Manager, or use a "
            "dataset already in the same Business as the WABA"
        )
        checks.append(
            Check(
                "dataset_access", False, f"the token cannot reach dataset {dataset}: {_describe(error)}", fix
            )
        )
    return checks


def report(setup: MetaSetup, checks: list[Check]) -> dict[str, Any]:
    return {
        "ok": all(c.ok for c in checks),
        "graph_base_url": setup.graph_base_url,
        "api_version": setup.api_version,
        "waba_id": setup.waba_id,
        "dataset_id": setup.dataset_id,
        "checks": [asdict(c) for c in checks],
    }
