"""attribution.shops: which shops may post webhooks and the secret each signs with, read from SSM
(moto) through the secret store: the single-shop parameter, the multi-shop JSON map, shop domains in
any case, a missing map remembered as missing, and a map that is not one refused by name."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from wa_conversions import reset
from wa_conversions.attribution import shops
from wa_conversions.config import Settings

PREFIX = "/wa-conversions-unit"
SINGLE = "wa-conversions-dev.myshopify.com"


@pytest.fixture(scope="module")
def aws() -> Iterator[Any]:
    """One moto for the file: its SSM backend is slow to start, so each test clears what it wrote."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        for name, value in {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            patch.setenv(name, value)
        with mock_aws():
            client = boto3.client("ssm")
            client.put_parameter(
                Name=f"{PREFIX}/shopify-webhook-secret", Value="single-secret", Type="SecureString"
            )
            yield client


@pytest.fixture
def ssm(aws: Any) -> Iterator[Any]:
    reset()
    try:
        yield aws
    finally:
        with contextlib.suppress(aws.exceptions.ParameterNotFound):
            aws.delete_parameter(Name=f"{PREFIX}/shopify-webhook-secrets")
        reset()


def put_map(client: Any, value: Any) -> None:
    client.put_parameter(
        Name=f"{PREFIX}/shopify-webhook-secrets",
        Value=value if isinstance(value, str) else json.dumps(value),
        Type="SecureString",
        Overwrite=True,
    )


SETTINGS = Settings.model_validate({"PARAMETER_PREFIX": PREFIX})


def test_the_single_shop_signs_with_its_own_secret_in_any_case(ssm: Any) -> None:
    assert shops.webhook_secret(SETTINGS, SINGLE, " WA-Conversions-Dev.myshopify.com ") == "single-secret"


def test_each_shop_of_the_map_signs_with_its_secret(ssm: Any) -> None:
    put_map(ssm, {"Second-Store.myshopify.com": "second-secret", "third.myshopify.com": "third-secret"})

    assert shops.webhook_secret(SETTINGS, SINGLE, "second-store.myshopify.com") == "second-secret"
    assert shops.webhook_secret(SETTINGS, "", "THIRD.myshopify.com") == "third-secret"


def test_a_shop_nobody_configured_has_no_secret(ssm: Any) -> None:
    put_map(ssm, {"second-store.myshopify.com": "second-secret"})

    assert shops.webhook_secret(SETTINGS, SINGLE, "stranger.myshopify.com") is None
    assert shops.webhook_secret(SETTINGS, SINGLE, "   ") is None


def test_a_shop_in_the_map_with_an_empty_secret_is_not_served(ssm: Any) -> None:
    put_map(ssm, {"second-store.myshopify.com": "", "third.myshopify.com": "third-secret"})

    assert shops.shop_secrets(SETTINGS) == {"third.myshopify.com": "third-secret"}
    assert shops.webhook_secret(SETTINGS, "", "second-store.myshopify.com") is None


def test_without_the_map_only_the_single_shop_is_served(ssm: Any) -> None:
    assert shops.shop_secrets(SETTINGS) == {}
    assert shops.configured_shops(SETTINGS, SINGLE) == [SINGLE]
    assert shops.configured_shops(SETTINGS, "") == []


def test_a_missing_map_is_remembered_as_missing_until_the_caches_are_cleared(ssm: Any) -> None:
    assert shops.webhook_secret(SETTINGS, "", "second-store.myshopify.com") is None
    put_map(ssm, {"second-store.myshopify.com": "second-secret"})

    # Still missing: an unknown shop must not cost an SSM call per request.
    assert shops.webhook_secret(SETTINGS, "", "second-store.myshopify.com") is None
    reset()
    assert shops.webhook_secret(SETTINGS, "", "second-store.myshopify.com") == "second-secret"


def test_every_configured_shop_once_sorted_and_lower_cased(ssm: Any) -> None:
    put_map(ssm, {"Zeta.myshopify.com": "z", SINGLE: "same-shop-twice", "alpha.myshopify.com": "a"})

    assert shops.configured_shops(SETTINGS, "WA-Conversions-Dev.myshopify.com") == [
        "alpha.myshopify.com",
        SINGLE,
        "zeta.myshopify.com",
    ]


@pytest.mark.parametrize("value", ["{not json", '["a.myshopify.com"]', '"a.myshopify.com"'])
def test_a_map_that_is_not_a_json_object_is_refused_naming_the_parameter(ssm: Any, value: str) -> None:
    put_map(ssm, value)

    with pytest.raises(ValueError, match=f"{PREFIX}/shopify-webhook-secrets must hold a JSON object"):
        shops.shop_secrets(SETTINGS)
