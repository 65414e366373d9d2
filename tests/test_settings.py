"""Settings come from the environment; production refuses to start on missing or bad values."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD_KEY = "x7Qp2Lr9Vt4Ws8Yz1Ab3Cd5Ef6Gh0Ij2Kl4Mn6Op8Qr0St2Uv4Wx6Yz8Ab0Cd2Ef"
PROBE = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.DEBUG)"
)


def start(**env: str) -> subprocess.CompletedProcess:
    clean = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "CANOPY_ENV",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DEBUG",
            "DATABASE_URL",
            "REDIS_URL",
            "CSRF_TRUSTED_ORIGINS",
            "CANOPY_PUBLIC_URL",
        }
    }
    clean["DJANGO_SETTINGS_MODULE"] = "community.settings"
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_development_needs_nothing_set():
    result = start()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "True", "True"]


def test_a_dead_worker_s_task_is_handed_out_again_after_the_longest_task_not_an_hour():
    """kombu's Redis transport redelivers an unacknowledged task after its visibility timeout
    (an hour by default): ours outlasts the task time limit, by five minutes."""
    probe = (
        "import django; django.setup(); from community.celery import app; c = app.conf; "
        "print(c.task_time_limit, c.task_soft_time_limit, c.broker_transport_options['visibility_timeout'])"
    )
    for env, expected in (({}, ["900", "840", "1200"]), ({"CANOPY_TASK_TIME_LIMIT": "1800"}, ["1800", "1740", "2100"])):
        clean = {k: v for k, v in os.environ.items() if k != "CANOPY_TASK_TIME_LIMIT"}
        result = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=ROOT,
            env={**clean, "DJANGO_SETTINGS_MODULE": "community.settings", **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.stdout.split() == expected, result.stderr


def test_redis_url_switches_celery_to_the_broker():
    result = start(REDIS_URL="redis://127.0.0.1:6379/0", DATABASE_URL="postgres://u@localhost/canopy")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["django.db.backends.postgresql", "False"]


PUBLIC = "https://canopy.example.org"


def test_production_starts_with_a_key_hosts_and_its_address():
    result = start(
        CANOPY_ENV="production", SECRET_KEY=GOOD_KEY, ALLOWED_HOSTS="canopy.example.org", CANOPY_PUBLIC_URL=PUBLIC
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "False"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is too weak"),
        ({"SECRET_KEY": "django-insecure-" + GOOD_KEY}, "SECRET_KEY is too weak"),
        ({"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must list"),
        ({"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "*"}, "must not contain '*'"),
        ({"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "a.org", "DEBUG": "1"}, "DEBUG must be off"),
        ({"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "a.org"}, "CANOPY_PUBLIC_URL must be set in production"),
        *(
            ({"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "a.org", "CANOPY_PUBLIC_URL": url}, "is a loopback address")
            for url in ("http://127.0.0.1:8000", "http://localhost", "https://[::1]/", "http://0.0.0.0:8000")
        ),
    ],
)
def test_production_refuses_to_start_without_safe_values(env, message):
    result = start(CANOPY_ENV="production", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "is not a boolean"),
        ({"CANOPY_ENV": "staging"}, "must be one of"),
        ({"DATABASE_URL": "mysql://u@h/db"}, "must point at PostgreSQL"),
        ({"DATABASE_URL": "nonsense"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL must start with"),
        ({"CSRF_TRUSTED_ORIGINS": "example.org"}, "CSRF_TRUSTED_ORIGINS"),
        ({"CANOPY_DEFAULT_TIME_ZONE": "Mars/Base"}, "CANOPY_DEFAULT_TIME_ZONE"),
        ({"CANOPY_DEFAULT_LANGUAGE": "fr"}, "CANOPY_DEFAULT_LANGUAGE='fr' is not one of en, zh-hans"),
        ({"CANOPY_TASK_TIME_LIMIT": "30"}, "CANOPY_TASK_TIME_LIMIT=30 must be at least 120"),
        ({"CANOPY_DIGEST_HOUR": "24"}, "CANOPY_DIGEST_HOUR=24 must be at most 23"),
        ({"CANOPY_WEBHOOK_ALLOW_PRIVATE": "perhaps"}, "is not a boolean"),
    ],
)
def test_bad_values_fail_loudly_anywhere(env, message):
    result = start(**env)
    assert result.returncode != 0
    assert message in result.stderr
