"""The care flag expires: an organization's care_flag_days (90 by default), each flag's expiry written on
the row, and who cleared it and when. Flags raised before this expire 90 days after they were raised
(after the customer was made, for the few with no date)."""

import datetime

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import F

DEFAULT_DAYS = 90


def date_the_flags(apps, schema_editor):
    Customer = apps.get_model("incidents", "Customer")
    lasts = datetime.timedelta(days=DEFAULT_DAYS)
    flagged = Customer.objects.filter(care_flag=True)
    flagged.filter(care_flagged_at__isnull=False).update(care_flag_expires_at=F("care_flagged_at") + lasts)
    flagged.filter(care_flagged_at__isnull=True).update(care_flag_expires_at=F("created_at") + lasts)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0022_incident_search")]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="care_flag_days",
            field=models.PositiveSmallIntegerField(
                default=DEFAULT_DAYS,
                help_text="Days a customer's care flag shows after a failure, unless someone clears it sooner (1 to 730).",
                validators=[django.core.validators.MinValueValidator(1, message="A care flag lasts at least 1 day."),
                            django.core.validators.MaxValueValidator(
                                730, message="A care flag lasts at most 730 days (two years).")],
            ),
        ),
        migrations.AddField(
            model_name="customer", name="care_flag_expires_at", field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="customer", name="care_flag_cleared_at", field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="customer",
            name="care_flag_cleared_by",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunPython(date_the_flags, migrations.RunPython.noop),
    ]
