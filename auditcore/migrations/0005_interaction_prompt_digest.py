"""Interaction.prompt_digest: the consistency report groups by it instead of hashing every prompt.

Stored rows get their digest here, a batch at a time: about two minutes per million rows on
PostgreSQL (measured on bench/dashboard.py's database), most of it the database rewriting rows.
"""

import django.db.models.functions.text
import django.db.models.lookups
from django.db import migrations, models

from auditcore.consistency import prompt_digest

BATCH = 2000


def fill_digests(apps, schema_editor):
    interaction = apps.get_model("auditcore", "Interaction")
    table = schema_editor.quote_name(interaction._meta.db_table)
    last = 0
    while batch := list(
        interaction.objects.filter(pk__gt=last).order_by("pk").values_list("pk", "prompt")[:BATCH]
    ):
        # One plain UPDATE per row, sent as a batch: bulk_update's CASE per batch costs Python
        # several times as much.
        with schema_editor.connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET prompt_digest = %s WHERE id = %s",  # noqa: S608 - fixed name
                [(prompt_digest(prompt), pk) for pk, prompt in batch],
            )
        last = batch[-1][0]


class Migration(migrations.Migration):
    dependencies = [
        ("auditcore", "0004_export_job_lease"),
    ]

    operations = [
        migrations.AddField(
            model_name="interaction",
            name="prompt_digest",
            field=models.BinaryField(default=b"", editable=False, max_length=16),
            preserve_default=False,
        ),
        migrations.RunPython(fill_digests, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="interaction",
            constraint=models.CheckConstraint(
                condition=django.db.models.lookups.Exact(
                    django.db.models.functions.text.Length("prompt_digest"), 16
                ),
                name="interaction_prompt_digest_length",
            ),
        ),
    ]
