"""Which shops may post webhooks, and the secret each signs with.

One shop: the ShopifyShopDomain parameter (SHOPIFY_SHOP_DOMAIN) with the SecureString
/<prefix>/shopify-webhook-secret. Several: the SecureString /<prefix>/shopify-webhook-secrets holding a
JSON object {"<shop>.myshopify.com": "<secret>", ...}. Both forms may be used together. Secrets are
read through the secret store's five-minute cache; a missing multi-shop parameter is remembered as
missing for as long, so an unknown shop does not cost an SSM call per request.
"""

from __future__ import annotations

import json
import time

from .. import on_reset
from ..config import Settings
from ..secret_store import SECRET_MAX_AGE_SECONDS, get_secret

SINGLE_SHOP_PARAMETER = "SHOPIFY_WEBHOOK_SECRET"
MULTI_SHOP_PARAMETER = "SHOPIFY_WEBHOOK_SECRETS"

_missing_until: dict[str, float] = {}


def normalize_shop(shop: str) -> str:
    return shop.strip().lower()


def webhook_secret(settings: Settings, single_shop: str, shop: str) -> str | None:
    """The secret of `shop`, or None for a shop this deployment does not serve."""
    shop = normalize_shop(shop)
    if not shop:
        return None
    if single_shop and shop == normalize_shop(single_shop):
        return get_secret(settings, SINGLE_SHOP_PARAMETER)
    return shop_secrets(settings).get(shop)


def shop_secrets(settings: Settings) -> dict[str, str]:
    """The multi-shop map, shop domains lower-cased; empty when the parameter does not exist."""
    name = settings.parameter_name(MULTI_SHOP_PARAMETER)
    if _missing_until.get(name, 0.0) > time.monotonic():
        return {}
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        raw = get_secret(settings, MULTI_SHOP_PARAMETER)
    except GetParameterError:
        _missing_until[name] = time.monotonic() + SECRET_MAX_AGE_SECONDS
        return {}
    try:
        document = json.loads(raw)
    except ValueError:
        raise ValueError(f"{name} must hold a JSON object of shop domain to secret") from None
    if not isinstance(document, dict):
        raise ValueError(f"{name} must hold a JSON object of shop domain to secret")
    return {normalize_shop(str(k)): str(v) for k, v in document.items() if v}


def configured_shops(settings: Settings, single_shop: str) -> list[str]:
    shops = set(shop_secrets(settings))
    if single_shop:
        shops.add(normalize_shop(single_shop))
    return sorted(shops)


@on_reset
def clear_cache() -> None:
    _missing_until.clear()
