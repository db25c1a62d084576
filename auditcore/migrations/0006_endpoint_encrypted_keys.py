"""Endpoint keys move from a named server environment variable to an encrypted stored value.

A variable's name cannot be turned into its value safely (reading it is the hole being closed),
so existing endpoints lose their key: the name is kept in legacy_api_key_env, the endpoints page
asks the lead to enter the key again, and frozen run configs drop the name.
"""

from django.db import migrations, models


def keep_the_name_and_forget_the_variable(apps, schema_editor):
    Endpoint = apps.get_model("auditcore", "Endpoint")
    for endpoint in Endpoint.objects.exclude(api_key_env=""):
        endpoint.legacy_api_key_env = endpoint.api_key_env
        endpoint.api_key_env = ""
        endpoint.save(update_fields=["legacy_api_key_env", "api_key_env"])
    ReplayRun = apps.get_model("auditcore", "ReplayRun")
    for run in ReplayRun.objects.all().only("pk", "config").iterator():
        if isinstance(run.config, dict) and "api_key_env" in run.config:
            run.config = {k: v for k, v in run.config.items() if k != "api_key_env"}
            run.save(update_fields=["config"])


class Migration(migrations.Migration):
    dependencies = [
        ("auditcore", "0005_interaction_prompt_digest"),
    ]

    operations = [
        migrations.AddField(
            model_name="endpoint",
            name="api_key_encrypted",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="endpoint",
            name="legacy_api_key_env",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.RunPython(keep_the_name_and_forget_the_variable, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="endpoint",
            name="api_key_env",
        ),
    ]
