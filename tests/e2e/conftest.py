"""Browser tests: Playwright (sync API) driving Debian's Chromium against pytest-django's live_server.

Screenshots go to a temporary folder ($DEALGATE_TEST_ARTIFACTS, default /tmp/dealgate-test-artifacts), never
into the checkout. The showcase test's pictures replace the README's ones in docs/img/ only when asked to:
`python3 run.py screenshots` (which sets DEALGATE_PUBLISH_SCREENSHOTS=1).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse DB calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("DEALGATE_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "dealgate-test-artifacts")
DOCS_IMG = ROOT / "docs" / "img"
PUBLISH = os.environ.get("DEALGATE_PUBLISH_SCREENSHOTS") == "1"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Browser tests need Debian's chromium: apt-get install -y chromium (python3 run.py test does it).")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(20_000)
    context.set_default_navigation_timeout(30_000)
    tab = context.new_page()
    yield tab
    context.close()


def sign_in(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


def shot(page, name: str, *, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def publish(path: Path, name: str) -> Path | None:
    """Copy a screenshot into docs/img/ (the committed pictures the README shows), only on purpose:
    with DEALGATE_PUBLISH_SCREENSHOTS=1 (`python3 run.py screenshots`). A test run leaves them alone."""
    if not PUBLISH:
        return None
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, DOCS_IMG / name)
    return DOCS_IMG / name
