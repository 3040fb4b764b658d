"""The production processes on loopback for the fault suite and the load benchmark:
gunicorn with ``deploy/gunicorn.conf.py`` and Celery workers with the Procfile's flags.

Each returns a ``subprocess.Popen`` started in its own process group (``stop`` ends the
group, ``kill`` SIGKILLs it, as the OOM killer or a lost VM would).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER_FLAGS = ["--without-gossip", "--without-mingle", "--without-heartbeat"]
"""As in the Procfile: nothing uses gossip or mingle, and gossip's restart after a lost
broker connection is where kombu raised AttributeError on a None connection."""


def django_env(**overrides: str) -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "rebalancer.settings.test", "PYTHONPATH": str(ROOT),
           "CELERY_TASK_ALWAYS_EAGER": "0", "LOG_LEVEL": "INFO"}
    env.pop("AUTOPILOT_FAULT", None)
    env.update(overrides)
    return env


def _popen(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    out = open(log, "ab")  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        out.close()


def gunicorn_start(env: dict[str, str], port: int, log: Path, workers: int = 2) -> subprocess.Popen:
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers), "GUNICORN_ACCESSLOG": ""}
    process = _popen([sys.executable, "-m", "gunicorn", "rebalancer.wsgi", "-c", "deploy/gunicorn.conf.py"], env, log)
    http_wait(f"http://127.0.0.1:{port}/api/v1/health/", process, accept=(200, 503))
    return process


def worker_start(env: dict[str, str], queues: str, log: Path, name: str, pool: str = "solo") -> subprocess.Popen:
    args = [sys.executable, "-m", "celery", "-A", "rebalancer", "worker", "-Q", queues, "-n", f"{name}@%h",
            "-P", pool, "-c", "1", "-l", "info", *WORKER_FLAGS]
    return _popen(args, env, log)


def log_wait(log: Path, text: str, process: subprocess.Popen | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {text!r}; see {log}")
        time.sleep(0.2)
    raise TimeoutError(f"{text!r} not in {log} after {timeout} s")


def http_wait(url: str, process: subprocess.Popen, accept=(200,), timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # loopback only
                if response.status in accept:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code in accept:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def request(method: str, url: str, body: bytes | dict | None = None, headers: dict | None = None, timeout: float = 20):
    """(status, headers, parsed JSON or raw bytes) of one HTTP request, errors included.

    A server may answer a too-large body (413) and close before reading all of it: the client's send
    then breaks, but the answer is on the socket, so it is read rather than reported as a failure.
    """
    parts = urllib.parse.urlsplit(url)
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request(method, target, data, {"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        status, head, raw = response.status, response.headers, response.read()
    finally:
        connection.close()
    try:
        return status, head, json.loads(raw)
    except ValueError:
        return status, head, raw


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(process)


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)
