"""Push delivery end to end: the cycle writes a notification, the outbox sends it to a fake
FCM + APNs server on loopback that records what it receives.

The fake answers like Google's token endpoint and FCM HTTP v1 (``/token``,
``/v1/projects/<p>/messages:send``) and like APNs (``/3/device/<token>``); each test
scripts its answers per device token (a 503 first, an UNREGISTERED token...).
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.utils import timezone

from common import push as push_transport
from rebalancer.autopilot import services
from rebalancer.autopilot.models import Notification, NotificationPreference, PushDelivery
from rebalancer.autopilot.push import push_outbox_process
from users.models import Device

from .conftest import AS_OF

UNREGISTERED = (404, {"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND",
                                "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                             "errorCode": "UNREGISTERED"}]}})
UNAVAILABLE = (503, {"error": {"code": 503, "message": "The service is unavailable.", "status": "UNAVAILABLE"}})


class FakePushServer:
    """Records every request; answers each token's scripted statuses, then 200."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.script: dict[str, deque] = defaultdict(deque)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/token":
                    return self._reply(200, {"access_token": "fake-oauth-token", "expires_in": 3600,
                                             "token_type": "Bearer"})
                if self.path.startswith("/3/device/"):
                    token = self.path.rsplit("/", 1)[1]
                    server.received.append({"provider": "apns", "token": token, "payload": json.loads(body),
                                            "topic": self.headers.get("apns-topic"),
                                            "auth": self.headers.get("authorization", "")})
                    status, answer = server._next(token, (200, {}))
                    return self._reply(status, answer, {"apns-id": "apns-1"})
                message = json.loads(body)["message"]
                server.received.append({"provider": "fcm", "token": message["token"], "payload": message,
                                        "auth": self.headers.get("authorization", "")})
                return self._reply(*server._next(message["token"], (200, {"name": "projects/p/messages/1"})))

            def _reply(self, status, answer, headers=None):
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _next(self, token: str, default):
        queue = self.script[token]
        return queue.popleft() if queue else default

    def to(self, token: str) -> list[dict]:
        return [r for r in self.received if r["token"] == token]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def keys():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pem = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    return rsa_key.private_bytes(*pem).decode(), ec_key.private_bytes(*pem).decode()


@pytest.fixture
def fake_push(settings, keys):
    server = FakePushServer()
    rsa_pem, ec_pem = keys
    settings.FCM_CREDENTIALS = json.dumps({
        "type": "service_account", "project_id": "rebalancer-test", "private_key_id": "k1",
        "private_key": rsa_pem, "client_email": "push@rebalancer-test.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": f"{server.url}/token",
    })
    settings.FCM_ENDPOINT = server.url
    settings.APNS_KEY, settings.APNS_KEY_ID, settings.APNS_TEAM_ID = ec_pem, "KEY123", "TEAM123"
    settings.APNS_TOPIC, settings.APNS_ENDPOINT = "com.example.rebalancer", server.url
    push_transport._apns_client.cache_clear()
    push_transport._apns_token.clear()
    yield server
    server.close()
    push_transport._apns_client.cache_clear()


def _devices(user) -> dict[str, Device]:
    return {
        "android": Device.objects.create(user=user, provider="fcm", token="fcm-good", platform="android"),
        "old": Device.objects.create(user=user, provider="fcm", token="fcm-uninstalled", platform="android"),
        "iphone": Device.objects.create(user=user, provider="apns", token="a1b2c3", platform="ios"),
    }


def test_a_rebalance_is_pushed_once_per_device_retried_after_a_503_and_dead_tokens_pruned(
    fake_push, portfolio_make, django_capture_on_commit_callbacks
):
    # given an investor with three phones: FCM answers a 503 first, one token is uninstalled,
    # and APNs is down for the first attempt
    portfolio = portfolio_make()
    devices = _devices(portfolio.owner)
    fake_push.script["fcm-good"].append(UNAVAILABLE)
    fake_push.script["fcm-uninstalled"].append(UNREGISTERED)
    fake_push.script["a1b2c3"].append((503, {"reason": "ServiceUnavailable"}))
    # when the cycle rebalances the portfolio (and the outbox task runs after commit)
    with django_capture_on_commit_callbacks(execute=True):
        result = services.cycle_run(portfolio_id=portfolio.pk, as_of=AS_OF)
    note = Notification.objects.get(decision_id=result.decision_id)
    # then FCM got it twice (the 503, then the retry) and the phone once; the dead token is pruned
    assert [r["payload"]["notification"]["title"] for r in fake_push.to("fcm-good")] == [note.title, note.title]
    assert fake_push.to("fcm-good")[0]["payload"]["data"] == {
        "notification_id": str(note.pk), "kind": "rebalanced", "portfolio_id": str(portfolio.pk),
        "decision_id": str(result.decision_id),
    }
    assert fake_push.to("fcm-good")[0]["auth"] == "Bearer fake-oauth-token"
    assert not Device.objects.filter(pk=devices["old"].pk).exists()
    deliveries = {d.provider + ":" + str(d.device_id): d for d in PushDelivery.objects.filter(notification=note)}
    assert deliveries[f"fcm:{devices['android'].pk}"].status == "sent"
    assert deliveries["fcm:None"].status == "dead_token"
    # and APNs, down, is scheduled for a retry rather than dropped
    apns = deliveries[f"apns:{devices['iphone'].pk}"]
    assert (apns.status, apns.attempts) == ("pending", 1)
    assert apns.next_attempt_at > timezone.now()
    assert len(fake_push.to("a1b2c3")) == 1
    # when the outbox runs once it is due, and again later
    later = apns.next_attempt_at + timedelta(seconds=1)
    first, second = push_outbox_process(now=later), push_outbox_process(now=later + timedelta(hours=1))
    # then the iPhone got it exactly once more, signed for the app's topic; nothing is sent twice
    assert (first.sent, second.sent) == (1, 0)
    [_, delivered] = fake_push.to("a1b2c3")
    assert delivered["payload"]["aps"]["alert"] == {"title": note.title, "body": note.body}
    assert delivered["topic"] == "com.example.rebalancer" and delivered["auth"].startswith("bearer ey")
    assert PushDelivery.objects.get(pk=apns.pk).status == "sent"
    assert len(fake_push.to("fcm-good")) == 2


def test_the_chunk_path_pushes_its_notifications_too_and_muted_kinds_are_not_pushed(
    fake_push, portfolio_make, django_capture_on_commit_callbacks
):
    # given two portfolios of one investor, one in advise mode whose proposals they muted
    auto, advised = portfolio_make(), portfolio_make(mode="advise")
    Device.objects.create(user=auto.owner, provider="fcm", token="fcm-only", platform="android")
    NotificationPreference.objects.create(user=auto.owner, kind="proposal", push=False)
    # when the chunk path runs both
    with django_capture_on_commit_callbacks(execute=True):
        services.cycle_run_many(portfolio_ids=[auto.pk, advised.pk], as_of=AS_OF)
    # then the rebalance is pushed, the proposal is only in the inbox
    kinds = [r["payload"]["data"]["kind"] for r in fake_push.received if r["token"] == "fcm-only"]
    assert kinds == ["rebalanced"]
    assert Notification.objects.filter(user=auto.owner, kind="proposal").count() == 1


def test_a_given_up_delivery_is_failed_after_the_last_attempt(fake_push, settings, investor):
    # given APNs that keeps answering 503 and two attempts allowed
    settings.PUSH_MAX_ATTEMPTS = 2
    device = Device.objects.create(user=investor, provider="apns", token="ffee", platform="ios")
    note = Notification.objects.create(user=investor, kind="risk", title="t", body="b")
    delivery = PushDelivery.objects.create(notification=note, device=device, provider="apns",
                                           next_attempt_at=timezone.now())
    fake_push.script["ffee"].extend([(503, {"reason": "ServiceUnavailable"})] * 3)
    # when
    push_outbox_process()
    push_outbox_process(now=timezone.now() + timedelta(hours=1))
    # then
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(fake_push.to("ffee"))) == ("failed", 2, 2)
    assert Device.objects.filter(pk=device.pk).exists()  # a failing server is not a dead token


def test_without_push_settings_nothing_is_queued(portfolio_make, settings):
    settings.FCM_CREDENTIALS = ""
    portfolio = portfolio_make()
    Device.objects.create(user=portfolio.owner, provider="fcm", token="t", platform="android")
    services.cycle_run(portfolio_id=portfolio.pk, as_of=AS_OF)
    assert Notification.objects.filter(user=portfolio.owner).count() == 1
    assert not PushDelivery.objects.exists()
