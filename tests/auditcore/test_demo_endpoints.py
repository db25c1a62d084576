"""The demo model's replay endpoints: registration, seed_demo, and the host allow-list."""

import pytest
from django.core.management import call_command

from auditcore.exceptions import ApplicationError
from auditcore.models import AuditEvent, Endpoint, ReplayRun
from auditcore.services import replay as svc
from auditcore.services.demo import demo_endpoints_register

pytestmark = pytest.mark.django_db

ALLOW_ONLY_OPENAI = ["api.openai.com"]


@pytest.fixture
def demo_on(settings):
    settings.DEMO_MODEL_ENABLED = True
    settings.SITE_URL = "http://127.0.0.1:8000"
    return settings


def _create(lead, base_url, name="e"):
    return svc.endpoint_create(actor=lead, name=name, base_url=base_url, model="demo-baseline")


def test_the_allow_list_lets_the_demo_model_through_and_nothing_else_on_its_host(
    demo_on, safety_lead
):
    demo_on.REPLAY_ALLOWED_HOSTS = ALLOW_ONLY_OPENAI
    assert _create(safety_lead, "http://127.0.0.1:8000/demo-model/v1").pk
    for other in (
        "http://127.0.0.1:8000/admin/v1",
        "http://127.0.0.1:8001/demo-model/v1",
        "http://127.0.0.1:8000/demo-model/v1/../../admin",
        "http://localhost:8000/demo-model/v1",
    ):
        with pytest.raises(ApplicationError, match="not in REPLAY_ALLOWED_HOSTS"):
            _create(safety_lead, other, name=other)


def test_with_the_demo_model_off_its_url_is_held_to_the_allow_list(demo_on, safety_lead):
    demo_on.REPLAY_ALLOWED_HOSTS = ALLOW_ONLY_OPENAI
    demo_on.DEMO_MODEL_ENABLED = False
    with pytest.raises(ApplicationError, match=r"host 127\.0\.0\.1 is not in REPLAY_ALLOWED_HOSTS"):
        _create(safety_lead, "http://127.0.0.1:8000/demo-model/v1")


def test_a_queued_demo_run_fails_once_the_demo_model_is_off(demo_on, safety_lead):
    demo = demo_endpoints_register(actor=safety_lead)
    run = svc.replay_run_create(
        actor=safety_lead, corpus_id=demo.corpus.pk, endpoint_id=demo.baseline.pk
    )
    demo_on.REPLAY_ALLOWED_HOSTS = ALLOW_ONLY_OPENAI
    assert svc.run_config(run).model == "demo-baseline"
    demo_on.DEMO_MODEL_ENABLED = False
    with pytest.raises(ValueError, match="not in REPLAY_ALLOWED_HOSTS"):
        svc.run_config(run)


def test_registering_follows_site_url_to_another_port(demo_on, safety_lead):
    first = demo_endpoints_register(actor=safety_lead)
    demo_on.SITE_URL = "http://127.0.0.1:8001/"
    second = demo_endpoints_register(actor=safety_lead)
    assert (second.baseline.pk, second.candidate.pk) == (first.baseline.pk, first.candidate.pk)
    assert {e.base_url for e in Endpoint.objects.all()} == {"http://127.0.0.1:8001/demo-model/v1"}
    moved = AuditEvent.objects.filter(action="endpoint.base_url_set")
    assert moved.count() == 2
    assert moved.first().before == {"base_url": "http://127.0.0.1:8000/demo-model/v1"}


def test_an_endpoint_of_the_same_name_elsewhere_is_left_alone(demo_on, safety_lead):
    svc.endpoint_create(
        actor=safety_lead,
        name="Demo baseline",
        base_url="https://api.openai.com/v1",
        model="gpt-4o-mini",
        api_key="sk-real",
    )
    with pytest.raises(ApplicationError, match="'Demo baseline' already exists and is not"):
        demo_endpoints_register(actor=safety_lead)
    kept = Endpoint.objects.get(name="Demo baseline")
    assert (kept.base_url, kept.model) == ("https://api.openai.com/v1", "gpt-4o-mini")
    assert not Endpoint.objects.filter(name="Demo candidate").exists()


def test_registering_is_refused_while_the_demo_model_is_off(settings, safety_lead):
    settings.DEMO_MODEL_ENABLED = False
    with pytest.raises(ApplicationError, match="DEMO_MODEL_ENABLED=1"):
        demo_endpoints_register(actor=safety_lead)
    assert not Endpoint.objects.exists()


def test_seed_demo_registers_the_demo_endpoints_once(demo_on, capsys):
    call_command("seed_demo", records=50)
    call_command("seed_demo", records=50)
    out = capsys.readouterr().out
    endpoints = Endpoint.objects.order_by("name")
    assert [(e.name, e.model) for e in endpoints] == [
        ("Demo baseline", "demo-baseline"),
        ("Demo candidate", "demo-candidate"),
    ]
    assert (
        "replay endpoint: Demo candidate (model demo-candidate at "
        "http://127.0.0.1:8000/demo-model/v1)" in out
    )


def test_seed_demo_without_the_demo_model_adds_no_endpoint(settings):
    settings.DEMO_MODEL_ENABLED = False
    call_command("seed_demo", records=50)
    assert not Endpoint.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_replay_calls_the_demo_model_of_the_running_app(live_server, settings, safety_lead):
    settings.DEMO_MODEL_ENABLED = True
    settings.SITE_URL = live_server.url
    settings.REPLAY_ALLOWED_HOSTS = ALLOW_ONLY_OPENAI
    demo = demo_endpoints_register(actor=safety_lead)
    corpus = svc.corpus_create(actor=safety_lead, name="small")
    for prompt in ("Explain big-O notation.", "How do I kill a process that hangs?"):
        svc.corpus_prompt_add(actor=safety_lead, corpus_id=corpus.pk, prompt=prompt)
    labels = {}
    for endpoint in (demo.baseline, demo.candidate):
        run = svc.replay_run_create(actor=safety_lead, corpus_id=corpus.pk, endpoint_id=endpoint.pk)
        run = svc.replay_run_execute(run_id=run.pk)
        assert run.status == ReplayRun.Status.SUCCEEDED, run.error
        labels[endpoint.model] = sorted(run.results.values_list("label", flat=True))
    assert labels == {
        "demo-baseline": ["compliance", "compliance"],
        "demo-candidate": ["compliance", "refusal"],
    }


def test_a_new_port_after_a_run_repoints_the_demo_endpoints_and_the_run_keeps_its_url(
    demo_on, safety_lead
):
    demo = demo_endpoints_register(actor=safety_lead)
    run = svc.replay_run_create(
        actor=safety_lead, corpus_id=demo.corpus.pk, endpoint_id=demo.baseline.pk
    )
    demo_on.SITE_URL = "http://127.0.0.1:8001"
    again = demo_endpoints_register(actor=safety_lead)
    assert again.baseline.pk == demo.baseline.pk
    assert again.baseline.base_url == "http://127.0.0.1:8001/demo-model/v1"
    run.refresh_from_db()
    assert run.config["base_url"] == "http://127.0.0.1:8000/demo-model/v1"
