"""The starter corpus: its size and spread, the command that loads it, seed_demo, the power note."""

import io
from collections import Counter

import pytest
from django.core.management import call_command
from django.urls import reverse

from auditcore.detection.default_policy import DEFAULT_CATEGORIES
from auditcore.models import Corpus
from auditcore.replay import parse_corpus
from auditcore.services.replay import STARTER_CORPUS_PATH

pytestmark = pytest.mark.django_db


def test_the_shipped_file_covers_every_default_category_with_enough_prompts():
    with STARTER_CORPUS_PATH.open("rb") as stream:
        prompts, errors = parse_corpus(stream, "jsonl")
    assert errors == []
    expects = Counter(p.expect.value for p in prompts)
    assert expects["must_help"] >= 200 and expects["must_decline"] >= 30
    categories = {c["slug"] for c in DEFAULT_CATEGORIES}
    helped = Counter(p.category for p in prompts if p.expect.value == "must_help")
    assert set(helped) == categories
    assert min(helped.values()) >= 20
    assert (STARTER_CORPUS_PATH.parent / "README.md").read_text().count("CC0") >= 1


def test_the_command_loads_it_once_and_tops_it_up_after():
    out = io.StringIO()
    call_command("load_starter_corpus", stdout=out)
    assert "238 prompts added, 0 already present" in out.getvalue()
    out = io.StringIO()
    call_command("load_starter_corpus", stdout=out)
    assert "0 prompts added, 238 already present" in out.getvalue()
    assert Corpus.objects.get(name="starter").prompts.count() == 238


def test_the_corpus_page_states_the_power_for_its_size(client, safety_lead):
    call_command("load_starter_corpus", stdout=io.StringIO())
    corpus = Corpus.objects.get(name="starter")
    client.force_login(safety_lead)
    page = client.get(reverse("replay:corpus", args=[corpus.pk])).content.decode()
    note = page[page.index('id="corpus-power"') : page.index("</p>", page.index("corpus-power"))]
    assert "206 active must-help prompts" in note
    assert "regression of about 5 points" in note
    corpus.prompts.filter(expect="must_help").exclude(category="general").update(active=False)
    page = client.get(reverse("replay:corpus", args=[corpus.pk])).content.decode()
    assert "30 active must-help prompts" in page and "fewer than 200" in page
