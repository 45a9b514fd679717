"""The local stack for end-to-end tests: the repository's template and local.env, over HTTP.

Fixtures:
    stack  the running devstack.stack.DevStack (session-wide; started on first use)
    api    an httpx.Client on stack.api_url (10 s timeout)
    aws    devstack.testing.AwsHelpers: boto3 clients bound to stack.aws_endpoint, plus
           receive_all / queue_depth / table_items / secret helpers

Nothing here touches os.environ: moto's in-process mock_aws, used by other test folders, stops
intercepting when AWS_ENDPOINT_URL is set. For the same reason moto runs in a child process here:
mock_aws resets moto's process-wide state when it starts and stops.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.stack import QUICK_BATCHING_WINDOW, DevStack
from devstack.testing import AwsHelpers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def stack() -> Iterator[DevStack]:
    with DevStack(
        ROOT / "template.yaml",
        ROOT / "local.env",
        port=0,
        moto="process",
        batching_window_cap=QUICK_BATCHING_WINDOW,
    ) as running:
        yield running


@pytest.fixture
def api(stack: DevStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=10.0) as client:
        yield client


@pytest.fixture(scope="session")
def aws(stack: DevStack) -> AwsHelpers:
    return AwsHelpers(stack)
