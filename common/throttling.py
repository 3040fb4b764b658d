"""Throttles of the API: who is counted (client IP, account, user) and how (atomic windows).

* :func:`client_ip` — the client's address, trusting ``X-Forwarded-For`` only as deep as
  ``NUM_PROXIES`` (``DJANGO_NUM_PROXIES``) proxies we run; with 0 it is ``REMOTE_ADDR``
  and a forged header changes nothing. The admin's lock-out (django-axes) uses it too.
* :class:`IpThrottle` / :class:`AccountThrottle` — a scope per client IP and per account
  (the email in the body, or the user of a refresh token): rotating forged IPs does not
  reset the account's counter, and one IP cannot spray many accounts.
* :class:`UserThrottle` — the default of every API view: per user (per IP when anonymous).
* :class:`ScopedUserThrottle` — heavier scopes (``compute``, ``backtests``) per user,
  named by the view's ``throttle_scope``.

Counters are fixed windows in the cache (``cache.add`` then ``cache.incr``: atomic on
Redis, so N concurrent clients cannot all read "under the limit" as DRF's sliding log
lets them). A full window answers 429 with ``Retry-After`` (the seconds until it ends).
Rates are ``DEFAULT_THROTTLE_RATES`` entries (``"20/minute"``), read when the request
comes, so settings overrides apply at once. When the cache is unreachable the throttle
raises the cache's error and the API answers 503 (``common.faults``): failing open would
let a password guesser through while Redis is down.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def client_ip(request) -> str:
    """The client's IP: ``REMOTE_ADDR``, or the entry our ``NUM_PROXIES``-th proxy appended.

    Accepts a Django ``HttpRequest`` or a DRF ``Request``. Entries a client wrote itself
    (to the left of what our proxies appended) are never read.
    """
    meta = request.META
    remote = meta.get("REMOTE_ADDR") or ""
    proxies = api_settings.NUM_PROXIES or 0
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote
    addresses = [a.strip() for a in forwarded.split(",")]
    return addresses[-min(proxies, len(addresses))] or remote


def parse_rate(rate: str) -> tuple[int, int]:
    """``"20/minute"`` -> ``(20, 60)``; ``"5/10m"`` is not a format (DRF's neither)."""
    count, period = rate.split("/")
    return int(count), _PERIODS[period.strip()[0]]


class RateThrottle(BaseThrottle):
    """Fixed-window counter per ``(scope, ident)``; subclasses say who ``ident`` is."""

    scope: str = ""

    def __init__(self) -> None:
        self._wait: float | None = None

    def rate(self, view) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def ident(self, request: Request, view) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def allow_request(self, request: Request, view) -> bool:
        rate = self.rate(view)
        ident = self.ident(request, view) if rate else None
        if ident is None:
            return True
        limit, period = parse_rate(rate)
        now = time.time()
        window = int(now // period)
        digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
        key = f"throttle:{self.scope}:{digest}:{window}"
        cache.add(key, 0, timeout=period + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr: this request opens a new window
            cache.add(key, 1, timeout=period + 1)
            count = 1
        if count <= limit:
            return True
        self._wait = max(1.0, (window + 1) * period - now)
        return False

    def wait(self) -> float | None:
        return self._wait


class IpThrottle(RateThrottle):
    def ident(self, request: Request, view) -> str | None:
        return f"ip:{client_ip(request)}"


class AccountThrottle(RateThrottle):
    """Counts per account: ``account(request)`` names it (``None``: not counted here)."""

    account: Callable[[Request], str | None] = staticmethod(lambda request: None)

    def ident(self, request: Request, view) -> str | None:
        name = type(self).account(request)
        return None if not name else f"account:{name}"


def email_in_body(request: Request) -> str | None:
    """The ``email`` field of a JSON object body, normalised (case, spaces)."""
    data = request.data
    email = data.get("email") if isinstance(data, dict) else None
    return email.strip().lower()[:254] if isinstance(email, str) and email.strip() else None


def uid_in_body(request: Request) -> str | None:
    """The ``uid`` field of an emailed link's body (reset confirm, email verification)."""
    data = request.data
    uid = data.get("uid") if isinstance(data, dict) else None
    return uid.strip()[:64] if isinstance(uid, str) and uid.strip() else None


def refresh_token_user(request: Request) -> str | None:
    """The ``user_id`` claim of the body's refresh token, unverified (the view verifies it).

    A forged claim only spends that user's budget faster, which a guesser could do by
    sending the victim's email to the login anyway; garbage is counted per IP only.
    """
    import jwt
    from rest_framework_simplejwt.settings import api_settings as jwt_settings

    data = request.data
    token = data.get("refresh") if isinstance(data, dict) else None
    if not isinstance(token, str) or len(token) > 4096:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    user = claims.get(jwt_settings.USER_ID_CLAIM) if isinstance(claims, dict) else None
    return f"user:{user}" if isinstance(user, str | int) else None


def auth_throttles(scope: str, account: Callable[[Request], str | None]) -> list[type[BaseThrottle]]:
    """The two throttles of an auth endpoint: ``<scope>`` per IP, ``<scope>_account`` per account."""
    per_ip = type(f"{scope.title().replace('_', '')}IpThrottle", (IpThrottle,), {"scope": scope})
    per_account = type(
        f"{scope.title().replace('_', '')}AccountThrottle",
        (AccountThrottle,),
        {"scope": f"{scope}_account", "account": staticmethod(account)},
    )
    return [per_ip, per_account]


class UserThrottle(RateThrottle):
    """Every API call: ``user`` rate per authenticated user, ``anon`` rate per IP otherwise."""

    def rate(self, view) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "user")

    def allow_request(self, request: Request, view) -> bool:
        user = getattr(request, "user", None)
        self.scope = "user" if user is not None and user.is_authenticated else "anon"
        return super().allow_request(request, view)

    def ident(self, request: Request, view) -> str | None:
        if self.scope == "user":
            return f"user:{request.user.pk}"
        return f"ip:{client_ip(request)}"


class ScopedUserThrottle(RateThrottle):
    """The view's ``throttle_scope`` per user, for ``throttle_scope_methods`` (default: all)."""

    def allow_request(self, request: Request, view) -> bool:
        self.scope = getattr(view, "throttle_scope", "") or ""
        methods = getattr(view, "throttle_scope_methods", None)
        if not self.scope or (methods is not None and request.method not in methods):
            return True
        return super().allow_request(request, view)

    def ident(self, request: Request, view) -> str | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
        return f"ip:{client_ip(request)}"
