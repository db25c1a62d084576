"""Endpoint API keys: stored encrypted, write-only, sent only to their own endpoint's host."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from auditcore.models import Endpoint, ReplayRun
from auditcore.services import replay as svc
from tests.support.fake_chat_server import FakeChatServer

pytestmark = pytest.mark.django_db


def endpoint_form(base_url, name="prod", **extra):
    return {
        "name": name,
        "base_url": base_url,
        "model": "helpful",
        "system_prompt": "",
        "temperature": "0",
        "max_tokens": "64",
        "concurrency": "2",
        "timeout_s": "5",
        **extra,
    }


def run_through_worker(lead, endpoint):
    corpus = svc.corpus_create(actor=lead, name=f"c-{endpoint.pk}")
    for i in range(3):
        svc.corpus_prompt_add(actor=lead, corpus_id=corpus.pk, prompt=f"How do I boil rice {i}?")
    run = svc.replay_run_create(actor=lead, corpus_id=corpus.pk, endpoint_id=endpoint.pk)
    from auditcore.tasks import replay_run_chunk_task

    replay_run_chunk_task(run.pk)
    return ReplayRun.objects.get(pk=run.pk)


def test_the_worker_sends_only_the_stored_key_of_that_endpoint(client, safety_lead):
    client.force_login(safety_lead)
    with FakeChatServer("helpful") as server:
        # A lead naming a server variable, the attack of the outside test, and a key of their own.
        for name, key in (("first", "sk-first-endpoint"), ("second", "sk-second-endpoint")):
            response = client.post(
                reverse("replay:endpoints"),
                endpoint_form(server.base_url, name=name, api_key=key, api_key_env="SECRET_KEY"),
            )
            assert response.status_code == 302, response.content.decode()[:2000]
        run = run_through_worker(safety_lead, Endpoint.objects.get(name="first"))
        sent = {r.authorization for r in server.completion_requests}
    assert run.status == ReplayRun.Status.SUCCEEDED
    assert sent == {"Bearer sk-first-endpoint"}
    assert all(settings.SECRET_KEY not in (a or "") for a in sent)


def test_the_key_is_encrypted_at_rest_and_never_shown_again(client, safety_lead):
    client.force_login(safety_lead)
    client.post(
        reverse("replay:endpoints"),
        endpoint_form("https://api.example.com/v1", api_key="sk-plaintext-value-42"),
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM auditcore_endpoint")
        stored = repr(cursor.fetchall())
    assert "sk-plaintext-value-42" not in stored
    page = client.get(reverse("replay:endpoints")).content.decode()
    assert "sk-plaintext-value-42" not in page
    assert "key stored" in page
    # A form error does not echo the key back either.
    response = client.post(
        reverse("replay:endpoints"),
        endpoint_form("https://api.example.com/v1", api_key="sk-echo-me-99", temperature="9"),
    )
    assert response.status_code == 400
    assert "sk-echo-me-99" not in response.content.decode()


def test_the_key_cannot_be_read_without_the_dedicated_setting(safety_lead):
    endpoint = svc.endpoint_create(
        actor=safety_lead,
        name="e",
        base_url="http://127.0.0.1:9/v1",
        model="m",
        api_key="sk-abc",
    )
    assert svc.endpoint_config(endpoint).api_key == "sk-abc"
    with override_settings(ENDPOINT_KEYS_SECRET="another-secret-entirely"):
        run = run_through_worker(safety_lead, endpoint)
    assert run.status == ReplayRun.Status.FAILED
    assert "ENDPOINT_KEYS_SECRET" in run.error
    assert run.results.count() == 0


def test_a_lead_can_replace_the_key_of_an_endpoint(client, safety_lead):
    client.force_login(safety_lead)
    with FakeChatServer("helpful") as server:
        client.post(reverse("replay:endpoints"), endpoint_form(server.base_url, api_key="sk-old"))
        endpoint = Endpoint.objects.get(name="prod")
        response = client.post(
            reverse("replay:endpoint_key", args=[endpoint.pk]), {"api_key": "sk-new"}
        )
        assert response.status_code == 302
        run_through_worker(safety_lead, endpoint)
        assert {r.authorization for r in server.completion_requests} == {"Bearer sk-new"}


@pytest.mark.parametrize(
    "base_url", ["ftp://api.example.com/v1", "file:///etc/passwd", "http://u:p@example.com/v1"]
)
def test_a_base_url_that_is_not_plain_http_is_refused(client, safety_lead, base_url):
    client.force_login(safety_lead)
    response = client.post(reverse("replay:endpoints"), endpoint_form(base_url, api_key="sk-x"))
    assert response.status_code == 400
    assert "base_url" in response.content.decode() or "Base url" in response.content.decode()
    assert not Endpoint.objects.exists()


def test_the_host_allow_list_refuses_other_hosts_at_save_and_at_run(client, safety_lead):
    client.force_login(safety_lead)
    with FakeChatServer("helpful") as server:
        endpoint = svc.endpoint_create(
            actor=safety_lead, name="local", base_url=server.base_url, model="m", api_key="sk-l"
        )
        with override_settings(REPLAY_ALLOWED_HOSTS=["api.openai.com"]):
            response = client.post(
                reverse("replay:endpoints"),
                endpoint_form("https://evil.example/v1", name="evil", api_key="sk-x"),
            )
            assert response.status_code == 400
            assert "evil.example is not in REPLAY_ALLOWED_HOSTS" in response.content.decode()
            run = run_through_worker(safety_lead, endpoint)
        assert server.completion_requests == []
    assert run.status == ReplayRun.Status.FAILED
    assert "REPLAY_ALLOWED_HOSTS" in run.error


class _Redirector(BaseHTTPRequestHandler):
    target = ""

    def do_POST(self):
        self.send_response(307)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_redirect_to_another_host_is_not_followed_with_the_key(safety_lead):
    with FakeChatServer("helpful") as other:
        # 127.0.0.1 and localhost are different hosts to an HTTP client.
        handler = type(
            "H",
            (_Redirector,),
            {"target": other.base_url.replace("127.0.0.1", "localhost") + "/chat/completions"},
        )
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            endpoint = svc.endpoint_create(
                actor=safety_lead,
                name="redirecting",
                base_url=f"http://127.0.0.1:{server.server_address[1]}/v1",
                model="m",
                api_key="sk-must-stay-home",
            )
            run = run_through_worker(safety_lead, endpoint)
        finally:
            server.shutdown()
            server.server_close()
        assert other.requests == []
    assert run.failed == 3
    assert "redirect" in run.results.first().error
