"""Tenants: several businesses in one deployment (docs/tenants.md).

The `Tenants` parameter (JSON in SSM under the prefix; locally the TENANTS key of local.env) lists
each tenant's WhatsApp numbers and WABA, its Shopify shops and its destinations. Without it the
deployment is one implicit tenant, configured by today's single-business parameters, and nothing
changes: no key, item or payload names a tenant.

A listed tenant's contacts live under tenant-scoped keys ("<tenant>~<phone>"), so the same phone
talking to two tenants is two contacts; a tenant marked "default" keeps today's unscoped keys (a
single-business deployment that becomes multi-tenant keeps its data) and receives the webhooks of
numbers no tenant lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from . import on_reset

if TYPE_CHECKING:
    from .config import Settings

IMPLICIT_ID = "default"
SCOPE_SEPARATOR = "~"
# A tenant secret is named <prefix>/tenants/<folder>/<destination>-<name>, so that each forwarder is
# granted its own destination's alone (template.yaml: tenants/*/wax-*), never another's tokens.
TENANT_SECRET_PREFIX = "tenants/"  # noqa: S105 (a parameter path, not a secret)


def secret_pattern(destination: str) -> str:
    """The names of one destination's tenant secrets: tenants/<folder>/<destination>-<name>."""
    return rf"^{TENANT_SECRET_PREFIX}[a-z0-9][a-z0-9-]{{0,63}}/{destination}-[a-z0-9-]{{1,100}}$"


TenantId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
MetaSecretName = Annotated[str, StringConstraints(pattern=secret_pattern("meta"))]
WaxSecretName = Annotated[str, StringConstraints(pattern=secret_pattern("wax"))]
CmSecretName = Annotated[str, StringConstraints(pattern=secret_pattern("cm"))]
Dialog360SecretName = Annotated[str, StringConstraints(pattern=secret_pattern("dialog360"))]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetaTenant(_Part):
    dataset_id: str = Field(min_length=1, pattern=r"^\d+$")
    # The SSM parameter (under the prefix) of the tenant's Conversions API token.
    token_parameter: MetaSecretName | None = None


class WaxTenant(_Part):
    # The tenant's Wax account: its base URL when not the deployment's, and its API token's parameter.
    base_url: str | None = None
    token_parameter: WaxSecretName | None = None


class CmTenant(_Part):
    # the sender CM.com's Meta Conversions name, E.164 digits; its product token's parameter
    business_number: str = Field(pattern=r"^\d{6,15}$")
    token_parameter: CmSecretName | None = None


class Dialog360Tenant(_Part):
    client_id: str = Field(min_length=1)
    app_id: str | None = None
    api_key_parameter: Dialog360SecretName | None = None


class Tenant(_Part):
    id: TenantId
    name: str | None = None
    phone_number_ids: tuple[str, ...] = ()
    waba_id: str | None = None
    # CM.com: the business's WhatsApp numbers, E.164 digits.
    business_numbers: tuple[str, ...] = ()
    shops: tuple[str, ...] = ()
    meta: MetaTenant | None = None
    wax: WaxTenant | None = None
    cm: CmTenant | None = None
    dialog360: Dialog360Tenant | None = None
    # Its Meta ad accounts (MetaAdAccountIds' form, act_ optional): GET /metrics?tenant= scopes spend by them.
    ad_account_ids: tuple[str, ...] = ()
    default: bool = False

    def secret_name(self, configured: str | None, key: str) -> str:
        """The SSM key of one of the tenant's secrets: as configured, else tenants/<id>/<key>."""
        return configured or f"{TENANT_SECRET_PREFIX}{self.id}/{key}"


class TenantList(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tenants: tuple[Tenant, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> TenantList:
        for label, values in (
            ("tenant id", [t.id for t in self.tenants]),
            ("phone number id", [p for t in self.tenants for p in t.phone_number_ids]),
            ("WABA id", [t.waba_id for t in self.tenants if t.waba_id]),
            ("business number", [n for t in self.tenants for n in t.business_numbers]),
            ("shop", [s.lower() for t in self.tenants for s in t.shops]),
        ):
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"{label} listed for more than one tenant: {', '.join(repeated)}")
        if sum(t.default for t in self.tenants) > 1:
            raise ValueError("at most one tenant can be the default")
        return self


class TenantConfigError(ValueError):
    """The Tenants parameter is not a valid tenant list; the message names the problem."""


def parse_tenants(text: str) -> TenantList:
    """A JSON list of tenants, or {"tenants": [...]}."""
    import json

    try:
        raw: Any = json.loads(text)
    except ValueError as error:
        raise TenantConfigError(f"Tenants is not JSON: {error}") from None
    try:
        return TenantList.model_validate({"tenants": raw} if isinstance(raw, list) else raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors(include_url=False)
        )
        raise TenantConfigError(f"Tenants: {problems}") from None


class TenantDirectory:
    """Who a webhook, an order or a conversion belongs to."""

    def __init__(self, listed: TenantList | None) -> None:
        self.listed = listed is not None
        self.tenants: tuple[Tenant, ...] = (
            listed.tenants if listed else (Tenant(id=IMPLICIT_ID, default=True),)
        )
        self._by_id = {t.id: t for t in self.tenants}
        self._default = next((t for t in self.tenants if t.default), None)
        self._by_account: dict[str, Tenant] = {}
        for tenant in self.tenants:
            for account in (*tenant.phone_number_ids, *tenant.business_numbers, tenant.waba_id):
                if account:
                    self._by_account[account] = tenant
        self._by_shop = {shop.lower(): t for t in self.tenants for shop in t.shops}

    @property
    def shops(self) -> tuple[str, ...]:
        """Every listed tenant's shops, lower-cased (reconciliation reads them too); none unlisted."""
        return tuple(self._by_shop) if self.listed else ()

    def get(self, tenant_id: str) -> Tenant | None:
        return self._by_id.get(tenant_id)

    def for_account(self, *ids: str | None) -> Tenant | None:
        """The tenant of a WhatsApp number (phone number id, CM.com business number) or WABA id;
        the default tenant for one no tenant lists (None without a default)."""
        if not self.listed:
            return self._default
        for account in ids:
            if account and (tenant := self._by_account.get(account)):
                return tenant
        return self._default

    def for_shop(self, shop: str | None) -> Tenant | None:
        """The tenant of a Shopify shop; None for a shop no tenant lists (the implicit tenant has all)."""
        if not self.listed:
            return self._default
        return self._by_shop.get((shop or "").lower())

    def scope(self, tenant: Tenant | None) -> str:
        """The prefix of the tenant's contact keys: "" for the implicit or default tenant, and for
        webhooks no tenant claims (kept, under today's keys, for no tenant's orders)."""
        if tenant is None or tenant.default:
            return ""
        return tenant.id


def scoped_key(scope: str, key: str) -> str:
    return f"{scope}{SCOPE_SEPARATOR}{key}" if scope else key


def split_key(key: str) -> tuple[str, str]:
    """("brand-b", "31612345678") for "brand-b~31612345678"; ("", key) for an unscoped key."""
    scope, separator, bare = key.partition(SCOPE_SEPARATOR)
    return (scope, bare) if separator else ("", key)


def phone_of_key(key: str | None) -> str | None:
    """The phone a contact key names (its wa_id digits), scoped or not; None for a user-id key."""
    if not key:
        return None
    bare = split_key(key)[1]
    return bare if bare.isdigit() else None


_loaded: dict[str, tuple[float, TenantDirectory]] = {}


def load_tenants(settings: Settings) -> TenantDirectory:
    """The deployment's tenants, read again every five minutes (as secrets are, secret_store).

    Cached here rather than only by Powertools, which does not cache a missing parameter: a
    single-business deployment without one would otherwise ask SSM on every batch."""
    import time

    from .secret_store import SECRET_MAX_AGE_SECONDS, get_optional_secret

    name = settings.parameter_name("TENANTS")
    now = time.monotonic()
    cached = _loaded.get(name)
    if cached is not None and now - cached[0] < SECRET_MAX_AGE_SECONDS:
        return cached[1]
    text = get_optional_secret(settings, "TENANTS")
    if text is None or not text.strip() or text.strip() in ("[]", "{}"):
        directory = TenantDirectory(None)
    else:
        directory = TenantDirectory(parse_tenants(text))
    _loaded[name] = (now, directory)
    return directory


@on_reset
def clear_cache() -> None:
    _loaded.clear()


def tenant_secret(settings: Settings, name: str, destination: str) -> str:
    """One of a tenant's secrets for `destination`, by its SSM key under the prefix; a name outside
    that destination's (secret_pattern) is refused here, as its forwarder's role would refuse it."""
    import re

    from .secret_store import get_secret

    if not re.fullmatch(secret_pattern(destination), name):
        expected = f"{TENANT_SECRET_PREFIX}<folder>/{destination}-<name>"
        raise TenantConfigError(f"a {destination} tenant secret must be named {expected}: {name}")
    return get_secret(settings, name)


def tenant_named(directory: TenantDirectory, tenant_id: str) -> Tenant:
    """The tenant an operator route's `?tenant=` names (docs/tenants.md), or a 400 naming it."""
    from .errors import BadRequestError

    tenant = directory.get(tenant_id) if directory.listed else None
    if tenant is None:
        raise BadRequestError(f"tenant: no tenant {tenant_id!r} in the Tenants parameter", field="tenant")
    return tenant


def owns(tenant: Tenant, record_tenant: object) -> bool:
    """Whether a stored order, message or delivery is the tenant's: it names the tenant, or names none
    and the tenant is the default (whose records, like its contact keys, are today's)."""
    return record_tenant == tenant.id or (not record_tenant and tenant.default)
