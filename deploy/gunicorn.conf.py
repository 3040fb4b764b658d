"""gunicorn settings of the API (``gunicorn rebalancer.wsgi -c deploy/gunicorn.conf.py``).

Every value comes from the environment (``GUNICORN_*``), with production defaults:

* request line up to 8,190 bytes, so the API's own 414 (``API_MAX_URL_CHARS``, 4,096, in
  the JSON error shape) answers long URLs rather than gunicorn's HTML one;
* ``X-Forwarded-Proto``/``-For`` are trusted from no address unless
  ``GUNICORN_FORWARDED_ALLOW_IPS`` names our proxy (gunicorn's default trusts 127.0.0.1,
  i.e. any client of a proxy on the same host, or any local process);
* no ``Server: gunicorn`` header (what software, which version: nothing a client needs);
* with ``PROMETHEUS_MULTIPROC_DIR`` (an empty folder of its own, emptied at start) every
  worker writes its metrics there and ``/metrics`` sums them, so a scrape sees all workers'
  requests, not only the one that answered it.
"""

import os

from gunicorn.http import wsgi as _wsgi

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# sync (default) or gthread with GUNICORN_THREADS threads per worker (keep-alive connections;
# measured in docs/benchmarks/load.md)
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# "0.0.0.0/32" matches no peer: an empty list is not a valid setting.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "") or "0.0.0.0/32"
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None  # "" turns it off
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")

_default_headers = _wsgi.Response.default_headers


def _headers_without_server(self):
    return [line for line in _default_headers(self) if not line.startswith("Server:")]


_wsgi.Response.default_headers = _headers_without_server


def on_starting(server):
    """Start the metrics folder empty: files of a previous run's workers would count twice."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))


def child_exit(server, worker):
    """A finished worker's live gauges leave the scrape (its counters stay summed)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
