"""Deployment: SECURITY.md 22 (deploy checks, the seeds' key) and which peers
may say a request came over HTTPS."""

from __future__ import annotations

import json
import os
import runpy
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.test import override_settings

BASE_DIR = Path(__file__).resolve().parent.parent


def production_env(tmp_path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "sls_portal.settings",
        "SECRET_KEY": secrets.token_urlsafe(45),  # 60 characters
        "FIELD_ENCRYPTION_KEY": secrets.token_urlsafe(45),
        "ALLOWED_HOSTS": "sls.example.com",
        "SLS_VAR_DIR": str(tmp_path),
    }


GOOD_KEY = "k" * 48


def _deploy_errors() -> set[str]:
    return {message.id for message in run_checks(include_deployment_checks=True) if message.id.startswith("sls.")}


ROOT = Path(__file__).resolve().parent.parent


def _settings_value(name: str, **env: str) -> str:
    environment = {key: value for key, value in os.environ.items() if key not in {"BEHIND_TLS_PROXY", "DEBUG"}} | {
        "SECRET_KEY": "s" * 60,
        "FIELD_ENCRYPTION_KEY": GOOD_KEY,
        "DJANGO_SETTINGS_MODULE": "sls_portal.settings",
    }
    code = f"from django.conf import settings; print(repr(settings.{name}))"
    result = subprocess.run(
        [sys.executable, "-c", code], env={**environment, **env}, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def _scheme(monkeypatch, peer: str, **env: str) -> str:
    """The wsgi.url_scheme gunicorn gives a request with X-Forwarded-Proto: https from `peer`."""
    from gunicorn.config import Config
    from gunicorn.http.parser import RequestParser

    monkeypatch.delenv("BEHIND_TLS_PROXY", raising=False)
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cfg = Config()
    for name, value in runpy.run_path(str(ROOT / "sls_portal" / "gunicorn.conf.py")).items():
        if name in cfg.settings:
            cfg.set(name, value)
    raw = b"GET / HTTP/1.1\r\nHost: sls.example\r\nX-Forwarded-Proto: https\r\n\r\n"
    request = next(iter(RequestParser(cfg, iter([raw]), (peer, 40000))))
    return request.scheme


def test_SEC22_check_deploy_passes_with_production_settings(tmp_path):
    """ASVS 14.1 (deployment); Django's own deployment checklist."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_SEC22_production_settings_have_transport_security(tmp_path):
    """ASVS 3.4.1, 9.1.1, 14.4.5: secure cookies, HSTS, HTTPS redirect, DEBUG off."""
    script = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k) for k in ("
        "'DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', "
        "'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', "
        "'X_FRAME_OPTIONS', 'ALLOWED_HOSTS')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"]
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31_536_000 and values["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["ALLOWED_HOSTS"] == ["sls.example.com"]


def test_SEC22_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    "key, expected",
    [
        ("short-key", {"sls.E001"}),
        ("", {"sls.E001"}),
        (GOOD_KEY, set()),
    ],
)
def test_SEC22_field_encryption_key_length_checked_on_deploy(key, expected):
    """SECURITY.md 22: a FIELD_ENCRYPTION_KEY under 32 characters fails `check --deploy`."""
    with override_settings(FIELD_ENCRYPTION_KEY=key, SECRET_KEY="s" * 60):
        assert _deploy_errors() == expected


def test_SEC22_field_encryption_key_equal_to_secret_key_fails_deploy_check():
    """SECURITY.md 22: the seeds' key must not be SECRET_KEY (a leaked SECRET_KEY alone reveals nothing)."""
    with override_settings(FIELD_ENCRYPTION_KEY="x" * 50, SECRET_KEY="x" * 50):
        assert _deploy_errors() == {"sls.E002"}


def test_SEC22_key_checks_only_on_deploy():
    """The development settings (the key is SECRET_KEY with DEBUG) pass the ordinary checks."""
    with override_settings(FIELD_ENCRYPTION_KEY="short"):
        assert not [m for m in run_checks() if m.id.startswith("sls.")]


def test_behind_tls_proxy_django_never_reads_x_forwarded_proto():
    """Django would trust SECURE_PROXY_SSL_HEADER from any peer; gunicorn decides instead."""
    assert _settings_value("SECURE_PROXY_SSL_HEADER", BEHIND_TLS_PROXY="1") == "None"


@pytest.mark.parametrize(
    "peer, env, scheme",
    [
        ("127.0.0.1", {"BEHIND_TLS_PROXY": "1"}, "https"),  # the proxy on the same host
        ("203.0.113.9", {"BEHIND_TLS_PROXY": "1"}, "http"),  # anyone else: ignored
        ("10.0.0.5", {"BEHIND_TLS_PROXY": "1", "FORWARDED_ALLOW_IPS": "10.0.0.5"}, "https"),
        ("127.0.0.1", {}, "http"),  # without BEHIND_TLS_PROXY nobody is believed
    ],
)
def test_x_forwarded_proto_believed_only_from_the_trusted_proxy(monkeypatch, peer, env, scheme):
    """With BEHIND_TLS_PROXY=1, X-Forwarded-Proto counts only from FORWARDED_ALLOW_IPS."""
    assert _scheme(monkeypatch, peer, **env) == scheme
