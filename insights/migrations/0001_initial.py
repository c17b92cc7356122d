import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def copy_from_users(apps, schema_editor):
    """Each manager's last digest week moves from the user row to their own WeeklyDigest row."""
    User = apps.get_model("incidents", "User")
    WeeklyDigest = apps.get_model("insights", "WeeklyDigest")
    sent = User.objects.filter(weekly_digest_sent_on__isnull=False).values_list("pk", "weekly_digest_sent_on")
    WeeklyDigest.objects.bulk_create(
        [WeeklyDigest(user_id=pk, sent_on=sent_on) for pk, sent_on in sent.iterator()], batch_size=1000
    )


def copy_back_to_users(apps, schema_editor):
    User = apps.get_model("incidents", "User")
    WeeklyDigest = apps.get_model("insights", "WeeklyDigest")
    for user_id, sent_on in WeeklyDigest.objects.values_list("user_id", "sent_on").iterator():
        User.objects.filter(pk=user_id).update(weekly_digest_sent_on=sent_on)


class Migration(migrations.Migration):

    initial = True

    # Runs while users still have weekly_digest_sent_on: incidents' 0013, which removes it, depends on this.
    dependencies = [
        ("incidents", "0012_event_kinds"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="WeeklyDigest",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="weekly_digest",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("sent_on", models.DateField()),
            ],
        ),
        migrations.RunPython(copy_from_users, copy_back_to_users),
    ]
