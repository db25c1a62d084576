"""Shared browser fixtures: headless Debian Chromium driven by Playwright against `live_server`.

Fixtures (names are stable, other test modules use them):
- `browser`: one Chromium per test session.
- `page`: a fresh browser context and page per test; script errors and dialogs are recorded on
  `page.errors` / `page.dialogs`, and any dialog (alert, confirm) is dismissed.
- `login_as(page, user)`: logs `user` in through the real login form (password PASSWORD).
- `screenshot(page, name)`: writes SCREENSHOT_DIR/<test name>/<name>.png (default
  test-artifacts/screenshots, git-ignored) for people to look at.

Where /usr/bin/chromium is missing, the tests skip with the reason, except in CI (CI set), where
they fail: CI installs Debian's chromium first (.ci/run). `playwright install` is never used.
"""

import os
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.factories import PASSWORD

# Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run in a
# thread with a running loop unless told it is safe (it is: the loop only talks to Chromium).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT_DIR = Path(
    os.environ.get("SCREENSHOT_DIR", str(ROOT / "test-artifacts" / "screenshots"))
)
# Milliseconds Playwright waits for an element or a navigation before failing the test.
TIMEOUT_MS = 15_000


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


def _require_chromium() -> None:
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK):
        return
    reason = f"headless Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def _playwright():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(_playwright):
    chromium = _playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh context (no cookies) and page; `page.base_url` is the live server's address."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    new_page = context.new_page()
    new_page.errors = []
    new_page.dialogs = []
    new_page.csp_violations = []

    def on_dialog(dialog):
        new_page.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_console(message):
        if "Content Security Policy" in message.text:
            new_page.csp_violations.append(message.text)

    new_page.on("dialog", on_dialog)
    new_page.on("pageerror", lambda error: new_page.errors.append(str(error)))
    new_page.on("console", on_console)
    new_page.base_url = live_server.url
    yield new_page
    context.close()


@pytest.fixture
def login_as():
    """login_as(page, user): log in through the login form and land on the home page."""

    def _login(page, user, password: str = PASSWORD):
        page.context.clear_cookies()
        page.goto("/login/")
        page.fill("#id_username", user.get_username())
        page.fill("#id_password", password)
        page.click("form.form button[type=submit]")
        page.wait_for_load_state("domcontentloaded")
        assert "/login/" not in page.url, f"login as {user.get_username()} failed"
        return page

    return _login


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "page"


@pytest.fixture
def screenshot(request):
    """screenshot(page, name): a full-page PNG under SCREENSHOT_DIR/<test>/<name>.png."""
    folder = SCREENSHOT_DIR / _safe(request.node.name)

    def _shoot(page, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{_safe(name)}.png"
        # caret="initial" keeps Playwright from writing style="" into inputs, which an htmx
        # swap would later copy and the CSP would then report.
        page.screenshot(path=str(path), full_page=True, caret="initial")
        return path

    return _shoot
