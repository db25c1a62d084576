"""Create the viewer group (read-only results) so every database has it."""

from django.db import migrations


def create_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name="viewer")


class Migration(migrations.Migration):
    dependencies = [
        ("auditcore", "0012_served_promotion_policy_review"),
    ]

    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]
