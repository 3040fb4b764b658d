"""A dependency is down: recognise it and answer 503 with ``Retry-After``, never a 500.

PostgreSQL unreachable (connection refused, server restarting, connection dropped) and
Redis unreachable (cache, throttle counters, the token denylist, the Celery broker) are
faults of the deployment, not bugs: the client should retry later, and the app team
needs one status to retry on. :func:`dependency_down` names the failed dependency of an
exception (or ``None``); the API's one exception handler (``common.api.Handler``) turns it
into :class:`DependencyUnavailable`, and :class:`common.middleware.DependencyFaultMiddleware`
does the same for what never reaches a DRF view (the admin, Django's own views).

``Retry-After`` is ``DEPENDENCY_RETRY_AFTER_S`` (settings, default 5 s).
"""

from __future__ import annotations

from django.conf import settings
from django.db import InterfaceError, OperationalError
from rest_framework.exceptions import APIException

DEFAULT_RETRY_AFTER_S = 5


def _redis_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = []
    try:
        import redis.exceptions

        errors += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    except ImportError:  # pragma: no cover - redis is a dependency
        pass
    try:
        import kombu.exceptions

        errors.append(kombu.exceptions.OperationalError)  # publishing to the broker failed
    except ImportError:  # pragma: no cover - celery is a dependency
        pass
    return tuple(errors)


_REDIS = _redis_errors()


def dependency_down(exc: BaseException) -> str | None:
    """``"database"``, ``"redis"`` or ``None`` (not a dependency fault) for ``exc``.

    ``OperationalError`` is Django's wrapper of psycopg's connection failures (and of
    lock timeouts and serialization failures, which a retry also fixes); programming
    errors (``ProgrammingError``, ``IntegrityError``, ``DataError``) stay 500s/4xx.
    """
    if isinstance(exc, OperationalError | InterfaceError):
        return "database"
    if _REDIS and isinstance(exc, _REDIS):
        return "redis"
    return None


def retry_after_s() -> int:
    return int(getattr(settings, "DEPENDENCY_RETRY_AFTER_S", DEFAULT_RETRY_AFTER_S))


class DependencyUnavailable(APIException):
    """503: the database or Redis cannot be reached; ``wait`` becomes ``Retry-After``."""

    status_code = 503
    default_code = "service_unavailable"
    default_detail = "A dependency is temporarily unavailable; retry later."

    def __init__(self, dependency: str) -> None:
        name = {"database": "The database", "redis": "The cache and task broker"}.get(dependency, "A dependency")
        super().__init__(detail=f"{name} is temporarily unavailable; retry after a few seconds.")
        self.dependency = dependency
        self.wait = retry_after_s()
