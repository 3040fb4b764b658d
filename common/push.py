"""Sending one push message to one device token: FCM HTTP v1 and APNs, one result type.

* **FCM** through ``firebase-admin`` (``messaging.send``): ``FCM_CREDENTIALS`` is a
  service-account JSON (a path or the JSON itself); its ``token_uri`` is where the OAuth
  token comes from. ``FCM_ENDPOINT`` replaces ``https://fcm.googleapis.com`` (a fake server
  on loopback in the tests). firebase-admin has no option for that, so :func:`_fcm_app`
  sets its messaging service's ``_fcm_url``; a test fails if a new version renames it.
  The library itself retries a 500/503 up to 4 times; what still fails comes back as
  ``retry`` for the outbox to try later.
* **APNs** over HTTP/2 with ``httpx`` (which firebase-admin brings with ``h2``) and a
  provider token (ES256 JWT from the ``.p8`` key, ``APNS_KEY``/``APNS_KEY_ID``/``APNS_TEAM_ID``),
  ``APNS_TOPIC`` the app's bundle id, ``APNS_ENDPOINT`` production, sandbox or a fake server.

:func:`push_send` never raises for a delivery problem: it answers :class:`PushResult` with
``sent``, ``retry`` (try again later: 429, 5xx, network), ``dead_token`` (the app was
uninstalled or the token is not valid: prune the device) or ``failed`` (will not work again).
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from django.conf import settings

Outcome = Literal["sent", "retry", "dead_token", "failed"]
FCM, APNS = "fcm", "apns"


@dataclass(frozen=True)
class PushMessage:
    title: str
    body: str
    data: dict[str, str] = field(default_factory=dict)
    """String values only (FCM's rule); the app reads e.g. ``notification_id``, ``kind``."""


@dataclass(frozen=True)
class PushResult:
    outcome: Outcome
    detail: str = ""


def push_configured(provider: str) -> bool:
    if provider == FCM:
        return bool(settings.FCM_CREDENTIALS)
    if provider == APNS:
        return bool(settings.APNS_KEY and settings.APNS_KEY_ID and settings.APNS_TEAM_ID and settings.APNS_TOPIC)
    return False


def push_send(*, provider: str, token: str, message: PushMessage) -> PushResult:
    if not push_configured(provider):
        return PushResult("failed", f"{provider} is not configured")
    if provider == FCM:
        return _fcm_send(token, message)
    return _apns_send(token, message)


# --- FCM ---------------------------------------------------------------------------------

def _credentials_info() -> dict[str, Any]:
    raw = settings.FCM_CREDENTIALS.strip()
    return json.loads(raw if raw.startswith("{") else Path(raw).read_text())


@cache
def _fcm_app(credentials: str, endpoint: str):  # firebase_admin.App
    import firebase_admin
    from firebase_admin import credentials as fb_credentials
    from firebase_admin import messaging

    info = _credentials_info()
    app = firebase_admin.initialize_app(
        fb_credentials.Certificate(info),
        options={"projectId": info["project_id"], "httpTimeout": settings.PUSH_TIMEOUT_SECONDS},
        name=f"rebalancer-{abs(hash((credentials, endpoint)))}",
    )
    if endpoint:
        service = messaging._get_messaging_service(app)
        service._fcm_url = f"{endpoint.rstrip('/')}/v1/projects/{info['project_id']}/messages:send"
    return app


def _fcm_send(token: str, message: PushMessage) -> PushResult:
    from firebase_admin import exceptions, messaging

    app = _fcm_app(settings.FCM_CREDENTIALS, settings.FCM_ENDPOINT)
    try:
        with warnings.catch_warnings():
            # 7.x deprecates `token` for Firebase installation ids; the apps' SDKs still hand out
            # registration tokens, which FCM HTTP v1 takes as `token`.
            warnings.filterwarnings("ignore", "Message.token is deprecated", DeprecationWarning)
            name = messaging.send(
                messaging.Message(
                    token=token, notification=messaging.Notification(title=message.title, body=message.body),
                    data=message.data,
                ),
                app=app,
            )
    except (messaging.UnregisteredError, messaging.SenderIdMismatchError) as exc:
        return PushResult("dead_token", str(exc))
    except exceptions.InvalidArgumentError as exc:
        # FCM answers INVALID_ARGUMENT for a malformed registration token as for a bad payload
        dead = "registration token" in str(exc).lower()
        return PushResult("dead_token" if dead else "failed", str(exc))
    except (exceptions.UnavailableError, exceptions.InternalError, exceptions.ResourceExhaustedError,
            exceptions.DeadlineExceededError, exceptions.UnknownError) as exc:
        return PushResult("retry", str(exc))
    except exceptions.FirebaseError as exc:
        return PushResult("failed", str(exc))
    return PushResult("sent", name)


# --- APNs --------------------------------------------------------------------------------

APNS_PRODUCTION = "https://api.push.apple.com"
_TOKEN_LIFETIME = 50 * 60  # Apple refuses provider tokens older than an hour
_apns_lock = threading.Lock()
_apns_token: dict[str, Any] = {}


def _apns_provider_token() -> str:
    import jwt

    with _apns_lock:
        now = int(time.time())
        if _apns_token.get("key_id") != settings.APNS_KEY_ID or now - _apns_token.get("iat", 0) > _TOKEN_LIFETIME:
            raw = settings.APNS_KEY.strip()
            key = raw if raw.startswith("-----BEGIN") else Path(raw).read_text()
            _apns_token.update(key_id=settings.APNS_KEY_ID, iat=now, token=jwt.encode(
                {"iss": settings.APNS_TEAM_ID, "iat": now}, key, algorithm="ES256",
                headers={"kid": settings.APNS_KEY_ID},
            ))
        return _apns_token["token"]


@cache
def _apns_client(endpoint: str):  # httpx.Client
    import httpx

    return httpx.Client(base_url=endpoint, http2=True, timeout=settings.PUSH_TIMEOUT_SECONDS)


def _apns_send(token: str, message: PushMessage) -> PushResult:
    import httpx

    payload = {"aps": {"alert": {"title": message.title, "body": message.body}, "sound": "default"},
               **message.data}
    try:
        response = _apns_client(settings.APNS_ENDPOINT or APNS_PRODUCTION).post(
            f"/3/device/{token}",
            json=payload,
            headers={"authorization": f"bearer {_apns_provider_token()}", "apns-topic": settings.APNS_TOPIC,
                     "apns-push-type": "alert", "apns-priority": "10"},
        )
    except httpx.HTTPError as exc:
        return PushResult("retry", f"{type(exc).__name__}: {exc}")
    if response.status_code == 200:
        return PushResult("sent", response.headers.get("apns-id", ""))
    try:
        reason = response.json().get("reason", "")
    except ValueError:
        reason = response.text[:200]
    if response.status_code == 410 or reason in ("BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"):
        return PushResult("dead_token", reason)
    if response.status_code == 429 or response.status_code >= 500:
        return PushResult("retry", f"{response.status_code} {reason}")
    return PushResult("failed", f"{response.status_code} {reason}")
