"""A real ``redis-server`` for the tests, on a free loopback port.

`redis_url` is a session-scoped fixture: it finds ``redis-server`` (on Debian, as root, it
installs the ``redis-server`` package when it is missing), starts it without persistence on
127.0.0.1, waits until it answers PING and stops it after the run. `RedisServer` starts
private servers for tests that need to kill one (outages).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

__all__ = ["RedisServer", "find_redis_server", "redis_url"]

_START_TIMEOUT = 10.0
_INSTALL_TIMEOUT = 600


def _apt(*arguments: str) -> bool:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(
        ["apt-get", *arguments], env=env, capture_output=True, timeout=_INSTALL_TIMEOUT, check=False
    )
    return done.returncode == 0


def _apt_install() -> bool:
    if _apt("install", "-y", "redis-server"):
        return True
    # NOTE: a fresh container has no package lists yet ("Unable to locate package").
    _apt("update")
    return _apt("install", "-y", "redis-server")


def find_redis_server() -> str | None:
    """Return the path of ``redis-server``, installing it with apt-get as root if needed."""
    found = shutil.which("redis-server")
    if found is not None:
        return found
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    try:
        _apt_install()
    except (OSError, subprocess.SubprocessError):
        return None
    return shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process on a loopback port, without persistence."""

    def __init__(self, binary: str, port: int | None = None) -> None:
        self.binary = binary
        self.port = port if port is not None else _free_port()
        self.process = subprocess.Popen(
            [
                binary,
                "--save",
                "",
                "--appendonly",
                "no",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while not _answers_ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        """The server's ``redis://`` URL (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def restart(self) -> RedisServer:
        """Stop this server and start a new, empty one on the same port."""
        self.stop()
        return RedisServer(self.binary, self.port)

    def stop(self) -> None:
        """Terminate the server and wait for it (killing it after 5 seconds)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_redis_server() -> RedisServer:
    """Start a private server, or skip the test when ``redis-server`` cannot be had."""
    binary = find_redis_server()
    if binary is None:
        pytest.skip(
            "redis-server is not installed and cannot be installed here (installing needs "
            "root and apt-get); install the redis-server package to run the Redis tests"
        )
    # NOTE: the free port is picked before the server binds it; retry if another took it.
    for attempt in range(3):
        try:
            return RedisServer(binary)
        except RuntimeError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL of a redis-server shared by the whole test session."""
    server = start_redis_server()
    try:
        yield server.url
    finally:
        server.stop()
