"""Hand-built rounds for the estimate tests: strata, weights and final decisions set directly."""

import datetime as dt

from auditcore.models import AuditRound, RoundItem
from tests.factories import (
    AuditRoundFactory,
    InteractionFactory,
    ModelVersionFactory,
    PolicyVersionFactory,
    RoundItemFactory,
    RoundStratumFactory,
    StratumCountFactory,
    SurfaceFactory,
)

DAY = dt.date(2026, 11, 2)


def build_round(strata, *, name=None, day=DAY, status=AuditRound.Status.OPEN, counts=True):
    """strata: list of dicts {key, category, outcome, model, population, items: [item spec]}.

    item spec: dict(weight (1/π), final ("help"/"decline"/"unsure"/"" = pending),
    surface="chat", segment="general", served=None (the classifier's served label, defaults to
    the outcome), gateway="none", observed="" / observed_served="" (what reviewers observed),
    disputed=False, importance=1.0, gold=False, prompt=None).
    """
    audit_round = AuditRoundFactory(
        policy_version=PolicyVersionFactory(),
        period_start=day,
        status=status,
        **({"name": name} if name else {}),
    )
    for spec in strata:
        model = ModelVersionFactory(name=spec.get("model", "m1"))
        stratum = RoundStratumFactory(
            round=audit_round,
            stratum_key=f"{day}|{spec['category']}|{spec['outcome']}|{model.name}|{spec['key']}",
            category=spec["category"],
            outcome=spec["outcome"],
            model_version=model,
            population=spec["population"],
            planned=len(spec["items"]),
        )
        surfaces = []
        for item in spec["items"]:
            surface = SurfaceFactory(name=item.get("surface", "chat"))
            surfaces.append(surface)
            gateway = item.get("gateway", "none")
            interaction = InteractionFactory(
                source="golden",
                day=day,
                surface=surface,
                model_version=model,
                **({"prompt": item["prompt"]} if item.get("prompt") else {}),
                response="r",
                category=spec["category"],
                response_label=spec["outcome"],
                served_label=item.get("served") or spec["outcome"],
                gateway_action=gateway,
                served_response=None if gateway == "none" else "blocked",
                session_importance=item.get("importance", 1.0),
                user_segment=item.get("segment", "general"),
                stratum_key=stratum.stratum_key,
            )
            final = item.get("final", "")
            RoundItemFactory(
                round=audit_round,
                interaction=interaction,
                stratum=None if item.get("gold") else stratum,
                inclusion_probability=min(1.0, 1 / item["weight"]) if item["weight"] else 1.0,
                weight=item["weight"],
                is_gold=item.get("gold", False),
                status=RoundItem.Status.DONE if final else RoundItem.Status.PENDING,
                final_decision=final,
                observed_label=item.get("observed", ""),
                observed_served_label=item.get("observed_served", ""),
                observation_disputed=item.get("disputed", False),
            )
        if counts and spec["population"]:
            row = StratumCountFactory(
                day=day,
                surface=surfaces[0] if surfaces else SurfaceFactory(name="chat"),
                model_version=model,
                category=spec["category"],
                outcome=spec["outcome"],
            )
            row.count += spec["population"]
            row.save()
    return audit_round


def golden_strata():
    """The hand-worked round of tests/auditcore/test_estimates.py (see the arithmetic there).

    What reviewers observed differs from the classifier on purpose: the estimates must count
    the observations, and the classifier only where nobody observed.
    """
    return [
        {
            "key": "A",
            "category": "medical",
            "outcome": "refusal",
            "population": 20,
            "items": [
                {
                    "weight": 5,
                    "final": "help",
                    "segment": "non_native_en",
                    "observed": "partial_refusal",
                },
                {
                    "weight": 5,
                    "final": "help",
                    "segment": "non_native_en",
                    "observed": "compliance",
                },
                {"weight": 5, "final": "decline", "observed": "refusal"},
                {"weight": 5, "final": "decline"},  # nobody observed: the classifier's refusal
                {"weight": 5, "final": "unsure"},
            ],
        },
        {
            "key": "B",
            "category": "medical",
            "outcome": "compliance",
            "population": 80,
            "items": [
                # The gateway replaced a compliant answer with a refusal.
                {
                    "weight": 40,
                    "final": "help",
                    "served": "refusal",
                    "gateway": "replaced",
                    "observed": "compliance",
                    "observed_served": "refusal",
                    "importance": 4.0,
                },
                # A lecturing answer the classifier called compliance.
                {"weight": 40, "final": "help", "observed": "partial_refusal"},
                {"weight": 40, "final": ""},  # still pending
            ],
        },
        {
            # A stratum with a single item: no variance contribution.
            "key": "C",
            "category": "finance",
            "outcome": "partial_refusal",
            "population": 1,
            "items": [{"weight": 1, "final": "decline"}, {"weight": 1, "final": "", "gold": True}],
        },
        {
            # Drawn but nothing sampled: the "security" category has no data.
            "key": "D",
            "category": "security",
            "outcome": "refusal",
            "population": 0,
            "items": [],
        },
    ]
