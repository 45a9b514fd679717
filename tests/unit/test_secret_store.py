"""secret_store against moto's SSM: a secret is read decrypted under the deployment's prefix, kept
for a warm environment until reset(), and an unset optional one is None while a required one fails."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from tests.support.delivery import moto_aws
from wa_conversions import reset
from wa_conversions.config import Settings
from wa_conversions.secret_store import get_optional_secret, get_secret

SETTINGS = Settings.model_validate({"PARAMETER_PREFIX": "/wa-conversions/"})


@pytest.fixture(autouse=True)
def ssm() -> Iterator[object]:
    with moto_aws():
        reset()
        client = boto3.client("ssm")
        yield client
        reset()


def put(ssm: object, name: str, value: str) -> None:
    ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)  # type: ignore[attr-defined]


def test_a_secret_is_read_decrypted_under_the_prefix(ssm: object) -> None:
    put(ssm, "/wa-conversions/whatsapp-app-secret", "s3cret")

    assert get_secret(SETTINGS, "WHATSAPP_APP_SECRET") == "s3cret"


def test_a_warm_environment_keeps_the_secret_and_reset_reads_the_rotated_one(ssm: object) -> None:
    put(ssm, "/wa-conversions/wax-api-token", "old")
    assert get_secret(SETTINGS, "WAX_API_TOKEN") == "old"

    put(ssm, "/wa-conversions/wax-api-token", "new")
    assert get_secret(SETTINGS, "WAX_API_TOKEN") == "old"
    reset()
    assert get_secret(SETTINGS, "WAX_API_TOKEN") == "new"


def test_an_unset_optional_secret_is_none(ssm: object) -> None:
    assert get_optional_secret(SETTINGS, "CM_PRODUCT_TOKEN") is None
    put(ssm, "/wa-conversions/cm-product-token", "tok")
    assert get_optional_secret(SETTINGS, "CM_PRODUCT_TOKEN") == "tok"


def test_an_unset_required_secret_fails() -> None:
    with pytest.raises(GetParameterError):
        get_secret(SETTINGS, "META_ACCESS_TOKEN")
