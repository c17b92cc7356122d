import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_and_other_headers(client):
    response = client.get("/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_a_form_post_without_its_csrf_token_is_refused():
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/login/", {"username": "a", "password": "b"}).status_code == 403


def test_the_deploy_check_is_clean_under_production_settings():
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "a-long-random-production-secret-" + "x7Qp2Lm9Zr4Kt8Vw1Yb6Nc3Hd5Jf0Gs" * 2,
        "ALLOWED_HOSTS": "recovery.example.com",
        "SECURE_SSL_REDIRECT": "1",
    }
    # The browser tests' conftest allows sync database calls from the live server's thread; a
    # deployment never sets that, and the deploy check rightly refuses it.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_a_form_post_over_the_size_limit_is_refused_and_logs_nothing(client, frontline, location):
    from incidents.models import Incident

    client.force_login(frontline)
    huge = "x" * (2 * 1024 * 1024)
    answer = client.post("/log/", {"customer_name": "Big", "summary": huge, "channel": "in_person", "location": location.pk})
    assert answer.status_code == 400
    assert not Incident.objects.exists()
