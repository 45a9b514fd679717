"""Unit tests run with the network off: any socket connect fails loudly (integration and e2e have it)."""

from __future__ import annotations

import socket
from typing import Any

import pytest


class NetworkInUnitTestError(RuntimeError):
    """A unit test tried to open a network connection; mock it (respx, moto) or move it to a higher tier."""


def _refuse(sock: socket.socket, address: Any, *_: Any) -> None:
    # Unix-domain sockets never leave the machine (multiprocessing uses them), so only IP is refused.
    if sock.family == socket.AF_UNIX:
        return _real_connect(sock, address)
    raise NetworkInUnitTestError(f"unit tests may not connect a socket (to {address!r})")


def _refuse_ex(sock: socket.socket, address: Any, *_: Any) -> int:
    if sock.family == socket.AF_UNIX:
        return _real_connect_ex(sock, address)
    raise NetworkInUnitTestError(f"unit tests may not connect a socket (to {address!r})")


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse_ex)
