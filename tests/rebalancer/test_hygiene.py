"""Production hygiene and wiring: the demo refuses production, the admin login locks out,
queues and redelivery are configured, every error status is in the schema."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from rebalancer.celery import app, delivery_options, worker_queues


@pytest.mark.django_db
def test_demo_refuses_to_run_with_production_settings(settings):
    from users.models import User

    settings.IS_PRODUCTION = True
    with pytest.raises(CommandError, match="refuses to run with production settings"):
        call_command("demo", "--market-only")
    assert User.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("investor", "operator"),
    [("demo-investor-pass-2026", "a-long-unique-operator-pw"), ("a-long-unique-investor-pw", "short")],
)
def test_demo_in_production_needs_the_flag_and_own_passwords(settings, investor, operator):
    from marketdata.models import Asset

    settings.IS_PRODUCTION = True
    settings.DEMO_INVESTOR_PASSWORD, settings.DEMO_OPERATOR_PASSWORD = investor, operator
    with pytest.raises(CommandError, match="not the published defaults"):
        call_command("demo", "--market-only", "--allow-production")
    assert Asset.objects.count() == 0


def test_production_settings_say_so_and_trust_no_forwarded_proto_by_default():
    import subprocess
    import sys

    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.IS_PRODUCTION, s.SECURE_PROXY_SSL_HEADER, s.REST_FRAMEWORK['NUM_PROXIES'])"
    )
    env = {"DJANGO_SETTINGS_MODULE": "rebalancer.settings.production", "DJANGO_ALLOWED_HOSTS": "example.com",
           "DJANGO_SECRET_KEY": "k" * 20 + "Zq8#vX2!mN4$pL6&rT9*wY1@bC3%dF5^", "PATH": "/usr/bin:/bin",
           "BROKER_CREDENTIALS_KEYS": "8Wx6xqO9sLJ0j8m1S7vCqf3yD7WbJxvL3a1Qm0pZ2kA="}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "None", "0"]
    env["DJANGO_SECURE_PROXY_SSL_HEADER"] = "X-Forwarded-Proto"
    env["DJANGO_NUM_PROXIES"] = "1"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "('HTTP_X_FORWARDED_PROTO',", "'https')", "1"]


@pytest.mark.django_db
def test_admin_login_locks_out_after_failures_even_with_the_right_password(client, settings):
    from users.models import User

    settings.AXES_FAILURE_LIMIT = 3
    User.objects.create_superuser(email="op@example.com", password="a-Strong-operator-pw-1")
    for _ in range(3):
        client.post("/admin/login/", {"username": "op@example.com", "password": "wrong"}, REMOTE_ADDR="203.0.113.9")
    locked = client.post("/admin/login/", {"username": "op@example.com", "password": "a-Strong-operator-pw-1"},
                         REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert locked.status_code == 429
    # the account is locked from another address too (lock-out by IP or by username)
    elsewhere = client.post("/admin/login/", {"username": "op@example.com", "password": "a-Strong-operator-pw-1"},
                            REMOTE_ADDR="198.51.100.1")
    assert elsewhere.status_code == 429


@pytest.mark.django_db
def test_admin_login_works_before_the_limit(client):
    from users.models import User

    User.objects.create_superuser(email="op@example.com", password="a-Strong-operator-pw-1")
    response = client.post("/admin/login/?next=/admin/", {"username": "op@example.com", "password": "a-Strong-operator-pw-1"})
    assert response.status_code == 302 and response["Location"] == "/admin/"


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("autopilot.cycle_run_all_task", "cycle"),
        ("autopilot.cycle_run_chunk_task", "cycle"),
        ("backtests.backtest_run_task", "heavy"),
        ("mlagents.agents_retrain_task", "heavy"),
        ("regime.regime_models_retrain_task", "heavy"),
        ("regime.regime_detect_task", "default"),
        ("marketdata.prices_pull_task", "default"),
        ("users.tokens_flush_expired_task", "default"),
    ],
)
def test_tasks_are_routed_to_their_queue(task, queue):
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_each_worker_class_has_its_own_visibility_timeout_and_unacked_keys(settings):
    settings.CELERY_QUEUE_VISIBILITY_TIMEOUTS = {"cycle": 1200, "heavy": 3900, "default": 2100}
    cycle = delivery_options(["cycle"], app.conf)
    heavy = delivery_options(["heavy"], app.conf)
    everything = delivery_options(["cycle", "default", "heavy"], app.conf)
    assert (cycle["visibility_timeout"], heavy["visibility_timeout"], everything["visibility_timeout"]) == (1200, 3900, 3900)
    assert cycle["unacked_key"] == "unacked:cycle" and heavy["unacked_key"] == "unacked:heavy"
    assert everything["unacked_index_key"] == "unacked_index:cycle+default+heavy"
    assert cycle["unacked_restore_interval"] == 10


def test_worker_queues_parses_the_q_option():
    assert worker_queues("cycle, default", "default") == ["cycle", "default"]
    assert worker_queues(["heavy"], "default") == ["heavy"]
    assert worker_queues(None, "default") == ["default"]


def test_the_visibility_timeout_exceeds_each_queues_time_limit():
    from django.conf import settings

    for queue, limit in settings.CELERY_QUEUE_TIME_LIMITS.items():
        assert settings.CELERY_QUEUE_VISIBILITY_TIMEOUTS[queue] > limit
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_connection_retry_on_startup is True
    assert app.conf.broker_connection_max_retries is None


def test_every_operation_documents_413_414_429_and_503(tmp_path):
    import yaml

    call_command("spectacular", "--file", str(tmp_path / "schema.yml"))
    schema = yaml.safe_load((tmp_path / "schema.yml").read_text())
    missing = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            wanted = {"413", "414", "503"} | ({"429"} if path != "/api/v1/health/" else set())
            if not wanted <= codes:
                missing.append((method, path, sorted(wanted - codes)))
    assert missing == []


@pytest.mark.django_db
def test_api_login_failures_are_not_recorded_by_the_admin_lockout(client, settings):
    from rest_framework.test import APIClient

    from users.models import User

    # given an operator whose email an attacker sprays at the API's login
    settings.AXES_FAILURE_LIMIT = 2
    User.objects.create_superuser(email="op@example.com", password="a-Strong-operator-pw-1")
    api = APIClient()
    for _ in range(3):
        assert api.post("/api/v1/auth/token", {"email": "op@example.com", "password": "wrong-pass-1"}, format="json").status_code == 401
    # then the admin's lock-out counted none of it (the API has its own throttles)
    response = client.post("/admin/login/?next=/admin/", {"username": "op@example.com", "password": "a-Strong-operator-pw-1"})
    assert response.status_code == 302
