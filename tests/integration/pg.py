"""Throwaway PostgreSQL clusters and Redis servers from Debian's binaries.

Used by the integration test session (``tests/integration/services.py``) and by
benchmarks that need a real database. Each instance lives in a temporary directory,
listens on a free loopback port, and is removed on ``stop()``. PostgreSQL refuses to
run as root, so as root the cluster runs as Debian's ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"{name} not found: install Debian's postgresql (make test does)")
    return found[-1]


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _pg_options(port: int, directory: str, durable: bool = False) -> str:
    # fsync off is safe against a killed server (the OS keeps its page cache); asynchronous
    # commit is not: a crash loses the last commits already answered. ``durable`` keeps
    # PostgreSQL's default (synchronous_commit=on), as production must.
    commit = "" if durable else "-c synchronous_commit=off "
    return (
        f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off {commit}"
        "-c full_page_writes=off -c max_connections=200"
    )


@dataclass
class PostgresCluster:
    directory: str
    port: int
    durable: bool = False

    def url_of(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def halt(self, mode: str = "immediate") -> None:
        """Stop the server (``immediate``: as a crash would) but keep its data for ``start``."""
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", f"{self.directory}/data", "-m", mode, "-w", "stop"]),
            capture_output=True,
            check=True,
        )

    def start(self) -> None:
        """Start the server again on the same port and data (after ``halt``)."""
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", f"{self.directory}/data", "-o", _pg_options(self.port, self.directory, self.durable),
                          "-l", f"{self.directory}/log", "-w", "start"]),
            check=True,
            capture_output=True,
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/rebalancer"

    def stop(self) -> None:
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", f"{self.directory}/data", "-m", "immediate", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.directory, ignore_errors=True)


def postgres_start(durable: bool = False) -> PostgresCluster:
    directory = tempfile.mkdtemp(prefix="rebalancer-pg-")
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(directory, user.pw_uid, user.pw_gid)
    port = free_port()
    data = f"{directory}/data"
    subprocess.run(
        _as_postgres([_pg_bin("initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    options = _pg_options(port, directory, durable)
    subprocess.run(
        _as_postgres([_pg_bin("pg_ctl"), "-D", data, "-o", options, "-l", f"{directory}/log", "-w", "start"]),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "rebalancer"],
        check=True,
        capture_output=True,
    )
    return PostgresCluster(directory=directory, port=port, durable=durable)


@dataclass
class RedisServer:
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def redis_start(port: int | None = None, directory: str | None = None) -> RedisServer:
    """A Redis server on a free port (or ``port``: a restart). With ``directory`` it keeps
    an append-only file there, as a broker in production should, so queued messages
    survive a restart."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found: install Debian's redis-server (make test does)")
    port = port or free_port()
    persistence = ["--dir", directory, "--appendonly", "yes", "--appendfsync", "always"] if directory else ["--appendonly", "no"]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", *persistence],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return RedisServer(process=process, port=port)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("redis-server did not start")
