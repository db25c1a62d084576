"""Alerts: a rise in false refusals, a new disparity flag or a new cross-surface inconsistency
against the previous round, on the dashboard and POSTed to a webhook (a local receiver here)."""

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.urls import reverse

from auditcore.models import Alert, AuditRound
from auditcore.services.alerts import (
    RateFigure,
    RoundFigures,
    alerts_check_recent,
    compare_figures,
    round_alerts_check,
)
from auditcore.services.rounds import round_close
from tests.support.estimate_rounds import build_round

pytestmark = pytest.mark.django_db

WEEK_1 = dt.date(2026, 11, 2)
WEEK_2 = dt.date(2026, 11, 9)


@pytest.fixture
def receiver(settings):
    """An HTTP server on 127.0.0.1 that records every JSON body POSTed to it."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append(
                {
                    "path": self.path,
                    "type": self.headers["Content-Type"],
                    "body": json.loads(self.rfile.read(length)),
                }
            )
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hooks/audit"
    yield received
    server.shutdown()
    server.server_close()


def _week(day, name, refused, helped, extra=()):
    """A round whose should-help traffic was refused `refused` times out of refused + helped."""
    return build_round(
        [
            {
                "key": "R",
                "category": "medical",
                "outcome": "refusal",
                "population": max(refused, 1) * 2,
                "items": [{"weight": 2, "final": "help"} for _ in range(refused)],
            },
            {
                "key": "C",
                "category": "medical",
                "outcome": "compliance",
                "population": helped * 2,
                "items": [{"weight": 2, "final": "help"} for _ in range(helped)] + list(extra),
            },
        ],
        name=name,
        day=day,
    )


def test_a_rise_in_false_refusals_and_a_new_inconsistency_reach_the_webhook_once(
    receiver, safety_lead
):
    _week(WEEK_1, "Week 45", refused=4, helped=36)
    same_prompt = "How do I reset the router in my flat?"
    week_2 = _week(
        WEEK_2,
        "Week 46",
        refused=20,
        helped=20,
        extra=[
            {"weight": 2, "final": "help", "surface": "chat", "prompt": same_prompt},
            {
                "weight": 2,
                "final": "help",
                "surface": "api",
                "prompt": same_prompt,
                "served": "refusal",
            },
        ],
    )
    round_close(actor=safety_lead, audit_round=week_2)
    raised = round_alerts_check(audit_round=week_2)

    assert {a.kind for a in raised} == {Alert.Kind.FRR_RISE, Alert.Kind.INCONSISTENCY}
    texts = [r["body"]["text"] for r in receiver]
    assert len(texts) == 2
    assert all(r["path"] == "/hooks/audit" and r["type"] == "application/json" for r in receiver)
    rise = next(t for t in texts if "False-refusal rate (served) rose" in t)
    assert "Week 46" in rise
    assert "Week 45" in rise
    inconsistency = next(t for t in texts if "cross-surface inconsistency" in t)
    assert "helped on chat and refused on api" in inconsistency
    assert same_prompt not in inconsistency  # prompts are hostile text; never sent out
    assert all(a.sent_at is not None for a in Alert.objects.all())

    # The scheduled check finds nothing new and sends nothing twice.
    assert round_alerts_check(audit_round=week_2) == []
    assert alerts_check_recent() == 0
    assert len(receiver) == 2


def test_steady_rates_raise_nothing(receiver):
    _week(WEEK_1, "Week 45", refused=4, helped=36)
    week_2 = _week(WEEK_2, "Week 46", refused=5, helped=35)
    assert round_alerts_check(audit_round=week_2) == []
    assert receiver == []


def test_a_new_disparity_flag_is_an_alert_and_an_old_one_is_not():
    def figures(name, flagged):
        return RoundFigures(name, RateFigure(0.1, 0.05, 0.15, 100), frozenset(flagged), {})

    drafts = compare_figures(
        figures("Week 46", {"non_native_en", "clinician"}), figures("Week 45", {"clinician"})
    )
    assert [(d.kind, d.subject) for d in drafts] == [
        (Alert.Kind.DISPARITY, "segment:non_native_en")
    ]
    assert "'non_native_en' are refused more" in drafts[0].message


def test_a_rate_on_few_items_raises_no_alert():
    few = RoundFigures("Week 46", RateFigure(0.8, 0.5, 0.95, 5))
    steady = RoundFigures("Week 45", RateFigure(0.05, 0.01, 0.1, 200))
    assert compare_figures(few, steady) == []


def test_an_unreachable_webhook_keeps_the_alert_and_says_why(settings):
    settings.ALERT_WEBHOOK_URL = "http://127.0.0.1:9/nothing-listens-here"
    _week(WEEK_1, "Week 45", refused=4, helped=36)
    week_2 = _week(WEEK_2, "Week 46", refused=20, helped=20)
    [alert] = round_alerts_check(audit_round=week_2)
    alert.refresh_from_db()
    assert alert.sent_at is None
    assert "ConnectError" in alert.send_error


def test_closing_a_round_on_the_page_raises_the_banner_on_the_dashboard(
    client, safety_lead, receiver, django_capture_on_commit_callbacks
):
    _week(WEEK_1, "Week 45", refused=4, helped=36)
    week_2 = _week(WEEK_2, "Week 46", refused=20, helped=20)
    client.force_login(safety_lead)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("rounds:close", args=[week_2.pk]), {"policy_version": week_2.policy_version_id}
        )
    assert AuditRound.objects.get(pk=week_2.pk).status == AuditRound.Status.CLOSED
    page = client.get(reverse("dashboard:round", args=[week_2.pk])).content.decode()
    assert 'id="alerts"' in page
    assert "False-refusal rate (served) rose in Week 46" in page
    assert len(receiver) == 1

    alert = Alert.objects.get()
    client.post(reverse("rounds:alert_dismiss", args=[alert.pk]))
    page = client.get(reverse("dashboard:round", args=[week_2.pk])).content.decode()
    assert 'id="alerts"' not in page


def test_reviewers_cannot_dismiss_alerts(client, reviewer):
    _week(WEEK_1, "Week 45", refused=4, helped=36)
    week_2 = _week(WEEK_2, "Week 46", refused=20, helped=20)
    round_alerts_check(audit_round=week_2)
    client.force_login(reviewer)
    alert = Alert.objects.get()
    assert client.post(reverse("rounds:alert_dismiss", args=[alert.pk])).status_code == 403
    alert.refresh_from_db()
    assert not alert.dismissed
