"""Stored traffic for tests: interactions written directly (not drawn into any round)."""

import datetime as dt

from django.db.models import F

from auditcore.models import Interaction, Label, StratumCount
from tests.factories import InteractionFactory, StratumCountFactory

DAY = dt.date(2026, 11, 1)


def stored_interaction(prompt: str, *, category: str = "general", **fields) -> Interaction:
    """An ingested interaction of DAY, counted in StratumCount as ingest would."""
    interaction = InteractionFactory(
        prompt=prompt,
        category=category,
        source="test-traffic",
        day=fields.pop("day", DAY),
        surface__name=fields.pop("surface", "web"),
        model_version__name=fields.pop("model", "acme-1"),
        response="Sure, here is how.",
        response_label=fields.pop("response_label", Label.COMPLIANCE),
        served_label=fields.pop("served_label", Label.COMPLIANCE),
        **fields,
    )
    cell = StratumCountFactory(
        day=interaction.day,
        surface=interaction.surface,
        model_version=interaction.model_version,
        category=category,
        outcome=interaction.response_label,
        gateway_changed=interaction.gateway_action != "none",
        count=0,
    )
    weight = interaction.impact_weight
    StratumCount.objects.filter(pk=cell.pk).update(
        count=F("count") + 1,
        impact_sum=F("impact_sum") + weight,
        impact_sq_sum=F("impact_sq_sum") + weight**2,
    )
    return interaction
