"""The embedded AWS: a moto server in a thread of this process, or in a child process.

In a thread (the default, as `make dev` runs it) there is nothing more to manage. A child process
keeps moto's state apart from the caller's: moto's backends are process-wide, and the in-process
`mock_aws` of unit tests resets them when it starts and stops, which would wipe a stack running in
the same pytest session.

Run as `python -m devstack.motoserver --host 127.0.0.1`, it prints the port it listens on, then
serves until its stdin closes (so it also ends when the parent dies).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Literal, Protocol

MotoMode = Literal["thread", "process"]


class MotoServer(Protocol):
    @property
    def url(self) -> str: ...

    def stop(self) -> None: ...


def _quiet_werkzeug() -> None:
    # werkzeug logs every request at INFO, which would bury the stack's own log lines.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


class ThreadMotoServer:
    def __init__(self, host: str) -> None:
        from moto.server import ThreadedMotoServer

        from devstack import eventbridge, moto_fixes, moto_limits

        moto_fixes.apply()
        moto_limits.install()
        eventbridge.install()
        _quiet_werkzeug()
        # verbose=False: moto would otherwise print to stdout, which carries the "ready" line.
        self._server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
        self._server.start()
        bound_host, port = self._server.get_host_and_port()
        self.url = f"http://{bound_host}:{port}"

    def stop(self) -> None:
        self._server.stop()


class ProcessMotoServer:
    def __init__(self, host: str) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "devstack.motoserver", "--host", host],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parent.parent,
            start_new_session=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().decode().strip()
        if not line.isdigit():
            self._process.kill()
            self._process.wait()
            raise RuntimeError(f"the moto server did not start (said {line!r})")
        self.url = f"http://{host}:{line}"

    def stop(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


def start_moto(mode: MotoMode, host: str) -> MotoServer:
    return ThreadMotoServer(host) if mode == "thread" else ProcessMotoServer(host)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="moto server for the local stack")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server = ThreadMotoServer(args.host)
    print(server.url.rsplit(":", 1)[1], flush=True)
    sys.stdin.buffer.read()
    # No graceful shutdown: the state dies with the process, and an orderly interpreter exit with
    # moto loaded takes the better part of a second.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
