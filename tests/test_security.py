import json
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
    assert strict.post("/login/", {"login": "a", "password": "b"}).status_code == 403


# Exactly what README's "Production processes" tells an operator to set, and nothing from this machine.
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x7Qp2Lm9Zr4Kt8Vw1Yb6Nc3Hd5Jf0Gs-a-long-random-production-secret-Ue3Wq8Rn",
    "ALLOWED_HOSTS": "recovery.example.com",
    "DATABASE_URL": "postgres://recovery:secret@db.internal:5432/recovery",
    "REDIS_URL": "redis://redis.internal:6379/0",
}


def run_app(command, environment, folder):
    """A fresh process with only `environment` (plus a PATH and a folder of its own), as an operator runs it."""
    return subprocess.run(
        [sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": os.environ["PATH"], "RECOVERY_VAR_DIR": str(folder), **environment},
    )


def production_settings(folder, **changes):
    environment = {key: value for key, value in {**PRODUCTION, **changes}.items() if value is not None}
    names = ["SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
             "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SECURE_PROXY_SSL_HEADER"]
    probe = ("import json, django; django.setup(); from django.conf import settings; "
             f"print(json.dumps({{name: getattr(settings, name) for name in {names!r}}}))")
    result = run_app(["-c", probe], {"DJANGO_SETTINGS_MODULE": "recovery.settings", **environment}, folder)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_deploy_check_is_clean_with_only_the_documented_production_variables(tmp_path):
    result = run_app(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_with_debug_off_and_no_secret_key_a_command_refuses_to_start_and_says_why(tmp_path):
    without_key = {key: value for key, value in PRODUCTION.items() if key != "SECRET_KEY"}
    result = run_app(["manage.py", "check"], without_key, tmp_path)
    assert result.returncode == 1
    assert "SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr
    # Development runs on the public key.
    assert run_app(["manage.py", "check"], {**without_key, "DEBUG": "1"}, tmp_path).returncode == 0


def test_with_debug_off_https_is_on_by_default(tmp_path):
    assert production_settings(tmp_path) == {
        "SECURE_SSL_REDIRECT": True, "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_HSTS_PRELOAD": True,
        "SECURE_PROXY_SSL_HEADER": None,
    }
    development = production_settings(tmp_path, DEBUG="1")
    assert not development["SECURE_SSL_REDIRECT"] and not development["SESSION_COOKIE_SECURE"]
    assert development["SECURE_HSTS_SECONDS"] == 0


def test_each_https_protection_has_its_own_opt_out(tmp_path):
    no_redirect = production_settings(tmp_path, SECURE_SSL_REDIRECT="0")
    assert no_redirect["SECURE_SSL_REDIRECT"] is False
    assert no_redirect["SESSION_COOKIE_SECURE"] and no_redirect["SECURE_HSTS_SECONDS"] == 31536000

    plain_cookies = production_settings(tmp_path, SESSION_COOKIE_SECURE="0")
    assert not plain_cookies["SESSION_COOKIE_SECURE"] and not plain_cookies["CSRF_COOKIE_SECURE"]
    assert plain_cookies["SECURE_SSL_REDIRECT"]

    no_hsts = production_settings(tmp_path, SECURE_HSTS_SECONDS="0")
    assert no_hsts["SECURE_HSTS_SECONDS"] == 0
    assert not no_hsts["SECURE_HSTS_INCLUDE_SUBDOMAINS"] and not no_hsts["SECURE_HSTS_PRELOAD"]
    assert no_hsts["SECURE_SSL_REDIRECT"]

    proxied = production_settings(tmp_path, BEHIND_TLS_PROXY="1")
    assert proxied["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert proxied["SECURE_SSL_REDIRECT"]


@pytest.mark.django_db
def test_behind_a_tls_proxy_a_request_it_forwarded_from_https_is_served_not_redirected_again(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client.get("/login/").status_code == 301  # plain HTTP straight to the app
    answer = client.get("/login/", headers={"X-Forwarded-Proto": "https"})
    assert answer.status_code == 200
    assert answer["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.django_db
def test_a_form_post_over_the_size_limit_is_refused_and_logs_nothing(client, frontline, location):
    from incidents.models import Incident

    client.force_login(frontline)
    huge = "x" * (2 * 1024 * 1024)
    answer = client.post("/log/", {"customer_name": "Big", "summary": huge, "channel": "in_person", "location": location.pk})
    assert answer.status_code == 400
    assert not Incident.objects.exists()
