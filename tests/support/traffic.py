"""Stored traffic for tests: interactions written directly (not drawn into any round)."""

import datetime as dt
import itertools

from django.utils import timezone

from auditcore import sampling
from auditcore.consistency import prompt_digest
from auditcore.models import Interaction, Label, ModelVersion, StratumCount, Surface

DAY = dt.date(2026, 11, 1)
_counter = itertools.count(1)


def stored_interaction(prompt: str, *, category: str = "general", **fields) -> Interaction:
    """An ingested interaction of DAY, counted in StratumCount as ingest would."""
    surface, _ = Surface.objects.get_or_create(name=fields.pop("surface", "web"))
    model, _ = ModelVersion.objects.get_or_create(name=fields.pop("model", "acme-1"))
    values = {
        "source": "test-traffic",
        "external_id": f"t{next(_counter)}",
        "occurred_at": timezone.now(),
        "day": DAY,
        "response": "Sure, here is how.",
        "response_label": Label.COMPLIANCE,
        "served_label": Label.COMPLIANCE,
        "detector_version": "test",
        "u": 0.5,
        "priority_key": 0.5,
        **fields,
    }
    interaction = Interaction.objects.create(
        surface=surface,
        model_version=model,
        prompt=prompt,
        prompt_digest=prompt_digest(prompt),
        category=category,
        stratum_key=sampling.stratum_key(
            values["day"], category, values["response_label"], model.name
        ),
        **values,
    )
    cell, _ = StratumCount.objects.get_or_create(
        day=interaction.day,
        surface=surface,
        model_version=model,
        category=category,
        outcome=interaction.response_label,
        gateway_changed=interaction.gateway_action != "none",
    )
    cell.count += 1
    cell.impact_sum += interaction.impact_weight
    cell.impact_sq_sum += interaction.impact_weight**2
    cell.save()
    return interaction
