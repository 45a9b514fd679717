"""The unit tier's guard: a test that reaches for the network fails instead of quietly depending on it."""

import socket

import httpx
import pytest

from tests.unit.conftest import NetworkInUnitTestError


def test_a_raw_socket_connect_fails_loudly() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(NetworkInUnitTestError):
        sock.connect(("127.0.0.1", 9))


def test_an_http_client_call_fails_loudly_instead_of_reaching_a_host() -> None:
    with pytest.raises(NetworkInUnitTestError):
        httpx.get("http://127.0.0.1:9/", timeout=1)
