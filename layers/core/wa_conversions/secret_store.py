"""Secrets from SSM Parameter Store (SecureString), cached by Powertools for five minutes, so a
rotated value is picked up without a redeploy and a warm function does not call SSM per request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import on_reset, once
from .config import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

SECRET_MAX_AGE_SECONDS = 300


@once
def _provider() -> SSMProvider:
    """Powertools' cache over the SSM client of the functions' one boto3 session: a provider of its
    own would start a second session, about 45 ms more on a cold webhook's first request."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    from . import aws

    return SSMProvider(boto3_client=aws.ssm())


def get_secret(settings: Settings, key: str) -> str:
    value = _provider().get(settings.parameter_name(key), decrypt=True, max_age=SECRET_MAX_AGE_SECONDS)
    return str(value)


def get_optional_secret(settings: Settings, key: str) -> str | None:
    """A secret that a deployment may leave unset (an integration it does not use)."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        return get_secret(settings, key)
    except GetParameterError:
        return None


@on_reset
def clear_cache() -> None:
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # type: ignore[no-untyped-call]
