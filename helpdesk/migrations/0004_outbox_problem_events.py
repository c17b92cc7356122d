"""The outbox pass also reads the problems' timeline: where it stands there."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("helpdesk", "0003_webhook_secret_rotation"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookoutbox",
            name="last_problem_event_id",
            field=models.BigIntegerField(default=0),
        ),
    ]
