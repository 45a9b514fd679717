"""Logging that keeps personal data out: phone numbers, emails and message text are masked."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

_EMAIL = re.compile(r"([^@\s]{1,2})[^@\s]*@([^\s]+)")


def mask_phone(phone: str | None) -> str | None:
    """Keep the country code's first digits and the last two: enough to tell contacts apart in a log."""
    if not phone:
        return phone
    digits = phone.lstrip("+")
    if len(digits) <= 4:
        return "*" * len(digits)
    return f"{digits[:2]}{'*' * (len(digits) - 4)}{digits[-2:]}"


def mask_email(email: str | None) -> str | None:
    if not email:
        return email
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", email)


def get_logger(service: str | None = None) -> Logger:
    from aws_lambda_powertools import Logger

    return Logger(service=service)
