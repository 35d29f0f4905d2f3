"""Security headers on every response, and templates that the Content-Security-Policy lets run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "dealgate"
TEMPLATES = sorted(ROOT.glob("*/templates/**/*.html"))


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: " ".join(part.split()[1:]) for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("url", ["/login/", "/deals/", "/api/docs", "/static/web/board.js", "/no-such-page/"])
def test_it_sends_a_content_security_policy_and_the_other_security_headers_everywhere(client, world, url):
    client.force_login(world.alice)
    response = client.get(url)
    policy = directives(response)
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    if not url.startswith("/static/"):  # files are served before the clickjacking middleware; the CSP covers them
        assert response["X-Frame-Options"] == "DENY"


def test_each_response_gets_its_own_script_nonce(client, db):
    first, second = (re.search(r"'nonce-([^']+)'", directives(client.get("/login/"))["script-src"]).group(1)
                     for _ in range(2))
    assert first != second and len(first) >= 16


def test_no_template_holds_an_inline_script_or_event_handler():
    """The policy refuses them in the browser: a script is a file, or data, or carries the nonce."""
    offenders = []
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            if not re.search(r"\bsrc=|type=\"application/json\"|nonce=\"\{\{ csp_nonce \}\}\"", tag):
                offenders.append(f"{path.relative_to(ROOT)}: {tag}")
        offenders += [f"{path.relative_to(ROOT)}: {m}" for m in re.findall(r"\son[a-z]+=\"[^\"]*\"", text)]
    assert TEMPLATES and offenders == []
