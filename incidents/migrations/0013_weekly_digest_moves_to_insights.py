from django.db import migrations


class Migration(migrations.Migration):

    # insights' 0001 copies the field into its WeeklyDigest rows first.
    dependencies = [
        ("incidents", "0012_event_kinds"),
        ("insights", "0001_initial"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="user",
            name="weekly_digest_sent_on",
        ),
    ]
