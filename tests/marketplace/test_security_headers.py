"""Security headers on every page, and `check --deploy` clean for a production set-up."""

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy_and_security_headers(client: Client) -> None:
    response = client.get("/login/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.django_db
def test_the_admin_and_api_docs_allow_inline_styles_but_no_inline_scripts(client: Client) -> None:
    for path in ["/admin/login/", "/api/docs/"]:
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response["Content-Security-Policy"]
        assert "style-src 'self' 'unsafe-inline'" in policy, path
        assert "script-src" not in policy, path  # scripts fall back to default-src 'self'
    # The docs page loads its start-up script from the site instead of inlining it.
    assert b"<script>" not in client.get("/api/docs/").content


def test_templates_hold_no_inline_scripts_or_event_handlers() -> None:
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        for tag in text.split("<script")[1:]:
            opening = tag.split(">", 1)[0]
            assert "src=" in opening or 'type="application/json"' in opening, template
        assert " onclick=" not in text and " onload=" not in text and " onsubmit=" not in text


def test_check_deploy_is_clean_for_production_settings() -> None:
    # Only these variables: the test run's own (DATABASE_URL, DJANGO_ALLOW_ASYNC_UNSAFE set by
    # the browser tests' conftest) are not a deployment's.
    env = {
        "PATH": os.environ["PATH"],
        "DEBUG": "",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PUBLIC_BASE_URL": "https://example.org",
        "ALLOWED_HOSTS": "example.org",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.django_db
def test_plain_http_is_redirected_behind_tls_but_the_health_probe(
    client: Client, settings: Any
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client.get("/login/").status_code == 301
    assert client.get("/login/", HTTP_X_FORWARDED_PROTO="https").status_code == 200
    assert client.get("/healthz").status_code != 301
