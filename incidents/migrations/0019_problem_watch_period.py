import datetime

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0018_customer_phone_e164"),
    ]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="problem_watch_period",
            field=models.DurationField(
                default=datetime.timedelta(days=28),
                help_text="A fixed problem is watched this long without recurrence before closing it is proposed.",
            ),
        ),
        migrations.AddField(
            model_name="organization",
            name="problem_patterns",
            field=models.PositiveIntegerField(
                default=0, editable=False,
                help_text="How many of its problems have a pattern to match new incidents against.",
            ),
        ),
    ]
