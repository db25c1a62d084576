"""JudgedItem: what each reviewer has judged, for the claim's index probes; filled from verdicts."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


BATCH = 2000


def fill_judged(apps, schema_editor):
    verdict = apps.get_model("auditcore", "Verdict")
    judged = apps.get_model("auditcore", "JudgedItem")
    rows = (
        verdict.objects.order_by("pk")
        .values_list(
            "reviewer_id",
            "item_id",
            "policy_version_id",
            "item__interaction_id",
            "item__round_id",
            "item__interaction__prompt_digest",
        )
        .iterator(chunk_size=BATCH)
    )
    batch = []
    for reviewer, item, version, interaction, round_id, digest in rows:
        batch.append(
            judged(
                reviewer_id=reviewer,
                item_id=item,
                policy_version_id=version,
                interaction_id=interaction,
                round_id=round_id,
                prompt_digest=bytes(digest),
            )
        )
        if len(batch) == BATCH:
            judged.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    judged.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ('auditcore', '0005_interaction_prompt_digest'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='JudgedItem',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('prompt_digest', models.BinaryField(max_length=16)),
                ('interaction', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='auditcore.interaction')),
                ('item', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='auditcore.rounditem')),
                ('policy_version', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='auditcore.policyversion')),
                ('reviewer', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('round', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='auditcore.auditround')),
            ],
            options={
                'indexes': [models.Index(fields=['reviewer', 'interaction'], name='judged_interaction'), models.Index(fields=['reviewer', 'round', 'prompt_digest'], name='judged_prompt')],
                'constraints': [models.UniqueConstraint(fields=('reviewer', 'item', 'policy_version'), name='judged_once_per_version')],
            },
        ),
        migrations.RunPython(fill_judged, migrations.RunPython.noop, elidable=True),
    ]
