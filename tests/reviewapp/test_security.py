"""Hostile clients: CSP on every page, secure cookies and HSTS, CSRF on every POST, the login
throttle, upload limits, and SQL-looking input in every filter.

The URL walks reuse the permission matrix's list of routes (every URL pattern, from the resolver).
"""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from auditcore.models import IngestJob, LoginThrottle
from tests.factories import PASSWORD
from tests.support.review_round import make_round
from tests.support.routes import MISSING_ID, ROUTES

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
ON_ATTRIBUTE = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[a-z][^>]*\sstyle\s*=", re.IGNORECASE)
SQL_PAYLOADS = [
    "' OR 1=1 --",
    '" OR ""="',
    "1; DROP TABLE auditcore_interaction; --",
    "1 UNION SELECT username, password FROM auth_user --",
    "%' OR '%'='",
    "\x00",
]
FILTER_NAMES = [
    "q", "search", "status", "round", "round_id", "category", "outcome", "surface", "model",
    "model_version", "source", "label", "decision", "day", "start", "end", "since", "until",
    "page", "page_size", "limit", "offset", "ordering", "format", "table", "trend", "job",
    "a", "b", "policy_version", "corpus", "cursor", "sort", "order",
]  # fmt: skip


def _get_routes() -> list[tuple[str, str]]:
    skip = {"logout"}
    return [(name, path) for name, path in ROUTES if name not in skip]


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    return client


# --- Content-Security-Policy: every page, no inline script, no inline handlers or styles.


def test_every_page_sends_a_csp_without_inline_script(admin_client, reviewer):
    anonymous = Client(raise_request_exception=False)
    make_round(items=2)
    checked = 0
    for name, path in _get_routes():
        for client in (admin_client, anonymous):
            response = client.get(path)
            where = f"GET {path} ({name}): {response.status_code}"
            csp = response.get("Content-Security-Policy", "")
            if name.startswith("api:") and response.get("Content-Type", "").startswith(
                "application/json"
            ):
                continue  # JSON is not rendered by a browser
            assert "script-src 'self'" in csp, where
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
            assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp, where
            if response.get("Content-Type", "").startswith("text/html") and not response.streaming:
                html = response.content.decode(errors="replace")
                assert not INLINE_SCRIPT.search(html), f"{where}: inline <script>"
                assert not ON_ATTRIBUTE.search(html), f"{where}: on* attribute"
                if not name.startswith(("admin", "api:docs")):
                    assert not STYLE_ATTRIBUTE.search(html), f"{where}: style attribute"
            checked += 1
    assert checked > 60


def test_error_pages_carry_the_csp_too(admin_client):
    response = admin_client.get("/no/such/page/")
    assert response.status_code == 404
    assert "script-src 'self'" in response["Content-Security-Policy"]


# --- Cookies and transport when DEBUG is off (the test settings are the production settings).


def test_cookies_are_secure_and_hsts_is_sent_when_not_in_debug(settings, client):
    assert not settings.DEBUG
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE
    assert settings.SESSION_COOKIE_HTTPONLY
    assert settings.SECURE_HSTS_SECONDS >= 31536000 and settings.SECURE_HSTS_INCLUDE_SUBDOMAINS
    assert settings.SECURE_CONTENT_TYPE_NOSNIFF and settings.X_FRAME_OPTIONS == "DENY"
    response = client.get(reverse("login"), secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_the_session_cookie_is_secure_httponly_and_lax(client, reviewer):
    response = client.post(
        reverse("login"), {"username": "alice", "password": PASSWORD}, secure=True
    )
    assert response.status_code == 302
    cookie = response.cookies["sessionid"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"


# --- CSRF: a POST without a token is refused on every URL.


@pytest.mark.parametrize("role", ["anonymous", "admin"])
def test_every_post_without_a_csrf_token_is_refused(role, admin_user):
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    if role == "admin":
        client.force_login(admin_user)
    make_round(items=1)
    for name, path in ROUTES:
        if name == "healthz" or (name.startswith("admin:") and role == "anonymous"):
            continue
        if name.startswith("demo_model:"):
            # CSRF-exempt on purpose: replay workers call it; it reads no session and stores
            # nothing, so there is nothing to forge (tests/reviewapp/test_demo_model.py).
            continue
        response = client.post(path, "", content_type="application/x-www-form-urlencoded")
        where = f"POST {path} ({name}) as {role}: {response.status_code}"
        if role == "anonymous" and name.startswith("api:"):
            # No session, so nothing to forge: the API says who it wants instead.
            assert response.status_code in (401, 403), where
        else:
            assert response.status_code == 403, where


def test_a_post_with_the_token_gets_through(reviewer):
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("login"))
    token = page.cookies["csrftoken"].value
    response = client.post(
        reverse("login"),
        {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302


# --- The login throttle.


def _login(client, password, username="alice", ip="10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_five_failed_logins_lock_the_username_from_that_address(client, reviewer):
    for _ in range(4):
        response = _login(client, "wrong")
        assert response.status_code == 200
        assert "login-locked" not in response.content.decode()
    response = _login(client, "wrong")
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    # Locked: even the right password is refused, and says so.
    response = _login(client, PASSWORD)
    assert response.status_code == 429
    assert "locked for 15 minutes" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address, or another username from this address, is not locked.
    assert _login(Client(), PASSWORD, ip="10.0.0.2").status_code == 302
    assert _login(Client(), "wrong", username="bob").status_code == 200


def test_the_lock_ends_after_its_time_and_a_login_clears_the_count(client, reviewer, settings):
    settings.LOGIN_THROTTLE_LOCK_SECONDS = 0
    for _ in range(5):
        _login(client, "wrong")
    assert _login(client, PASSWORD).status_code == 302
    assert not LoginThrottle.objects.filter(username="alice").exists()


def test_the_throttle_counts_case_insensitively(client, reviewer):
    for name in ("alice", "ALICE", "Alice", "aliCe", "alicE"):
        _login(client, "wrong", username=name)
    assert _login(client, PASSWORD).status_code == 429


def test_the_admin_login_is_throttled_too(client, admin_user):
    for _ in range(5):
        client.post("/admin/login/", {"username": "carol", "password": "x"}, REMOTE_ADDR="1.2.3.4")
    response = client.post(
        "/admin/login/", {"username": "carol", "password": PASSWORD}, REMOTE_ADDR="1.2.3.4"
    )
    assert response.status_code == 429


# --- Upload limits.


def test_an_upload_over_the_size_limit_is_refused_and_not_stored(admin_client, settings, tmp_path):
    settings.INGEST_MAX_UPLOAD_MB = 1
    settings.MEDIA_ROOT = tmp_path
    big = SimpleUploadedFile("big.jsonl", b"{}\n" * 400_000, content_type="application/x-ndjson")
    response = admin_client.post(
        reverse("ingest:upload"), {"file": big, "source": "s", "format": "auto"}
    )
    assert response.status_code == 400
    assert "the limit is 1 MB" in response.content.decode()
    assert not IngestJob.objects.exists()
    assert not list(tmp_path.rglob("*.jsonl"))


@pytest.mark.parametrize("filename", ["evil.exe", "page.html", "x.jsonl.php", "noext"])
def test_an_upload_of_another_type_is_refused(admin_client, filename, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile(filename, b'{"id": "1"}\n')
    response = admin_client.post(
        reverse("ingest:upload"), {"file": upload, "source": "s", "format": "auto"}
    )
    assert response.status_code == 400
    assert "The file must be JSONL, CSV or an OpenAI log" in response.content.decode()
    assert not IngestJob.objects.exists()


def test_an_api_body_over_the_limit_is_refused(admin_user, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    body = '{"records": [' + ",".join(['{"id": "x"}'] * 500) + "]}"
    response = client.post(reverse("api:interactions"), body, content_type="application/json")
    assert response.status_code in (400, 413)


# --- SQL-looking input in every filter.


def _counts(response) -> int | None:
    if not response.get("Content-Type", "").startswith("application/json"):
        return None
    data = response.json()
    if isinstance(data, dict) and isinstance(data.get("count"), int):
        return data["count"]
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        return len(data["results"])
    if isinstance(data, list):
        return len(data)
    return None


def test_sql_looking_filters_never_give_500_or_extra_rows(admin_client, reviewer):
    make_round(items=3)
    checked = 0
    for name, path in _get_routes():
        if name.startswith(("admin:", "api:schema", "api:docs")) or MISSING_ID in path:
            continue
        baseline = admin_client.get(path)
        if baseline.status_code == 405:
            continue
        base_count = _counts(baseline)
        for payload in SQL_PAYLOADS:
            params = dict.fromkeys(FILTER_NAMES, payload)
            response = admin_client.get(path, params)
            where = f"GET {path} ({name}) with {payload!r}: {response.status_code}"
            assert response.status_code < 500, where
            assert response.status_code in (200, 302, 400, 404, 406), where
            count = _counts(response)
            if base_count is not None and count is not None:
                assert count <= base_count, f"{where}: {count} rows > {base_count}"
            if payload != SQL_PAYLOADS[0]:
                continue
            # Each filter alone, too: one bad name must not hide behind another's 400.
            for filter_name in FILTER_NAMES:
                single = admin_client.get(path, {filter_name: payload})
                assert single.status_code < 500, f"{where} ({filter_name} alone)"
                count = _counts(single)
                if base_count is not None and count is not None:
                    assert count <= base_count, f"{where} ({filter_name}): {count} > {base_count}"
            checked += 1
    assert checked > 30, checked
