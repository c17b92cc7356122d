import datetime

import django.db.models.deletion
from django.db import migrations, models

import incidents.models


def week_from_daily_window(apps, schema_editor):
    """Every location's one daily window becomes the same span on each day of its week. A window that
    opened and closed at the same time meant "never closes": it becomes 00:00–00:00, round the clock."""
    Location = apps.get_model("incidents", "Location")
    WeeklySpan = apps.get_model("incidents", "WeeklySpan")
    spans = []
    for location in Location.objects.all().iterator():
        opens, closes = location.opens_at, location.closes_at
        if opens == closes:
            opens = closes = datetime.time(0)
        spans += [WeeklySpan(location_id=location.pk, weekday=day, opens=opens, closes=closes) for day in range(7)]
    WeeklySpan.objects.bulk_create(spans, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0023_care_flag_expiry")]

    operations = [
        migrations.CreateModel(
            name="WeeklySpan",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("weekday", models.PositiveSmallIntegerField(choices=[(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"), (4, "Friday"), (5, "Saturday"), (6, "Sunday")])),
                ("opens", models.TimeField()),
                ("closes", models.TimeField()),
                ("location", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="weekly_spans", to="incidents.location")),
            ],
            options={"ordering": ["weekday", "opens"]},
        ),
        migrations.CreateModel(
            name="CalendarException",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("date", models.DateField()),
                ("opens", models.TimeField(blank=True, null=True)),
                ("closes", models.TimeField(blank=True, null=True)),
                ("location", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="calendar_exceptions", to="incidents.location")),
            ],
            options={"ordering": ["date", "opens"]},
        ),
        migrations.AddField(
            model_name="location",
            name="holiday_country",
            field=models.CharField(blank=True, help_text="Country whose public holidays close the location; empty: none.", max_length=3, validators=[incidents.models.validate_holiday_country], verbose_name="public holidays of"),
        ),
        migrations.AddField(
            model_name="location",
            name="holiday_subdivision",
            field=models.CharField(blank=True, help_text="State, province or region of that country, for its own holidays.", max_length=10, verbose_name="holiday region"),
        ),
        migrations.AddConstraint(
            model_name="calendarexception",
            constraint=models.CheckConstraint(condition=models.Q(models.Q(("closes__isnull", True), ("opens__isnull", True)), models.Q(("closes__isnull", False), ("opens__isnull", False)), _connector="OR"), name="calendar_exception_times"),
        ),
        migrations.AddConstraint(
            model_name="weeklyspan",
            constraint=models.CheckConstraint(condition=models.Q(("weekday__gte", 0), ("weekday__lte", 6)), name="weekly_span_weekday"),
        ),
        migrations.AddConstraint(
            model_name="weeklyspan",
            constraint=models.UniqueConstraint(fields=("location", "weekday", "opens"), name="weekly_span_once"),
        ),
        migrations.RunPython(week_from_daily_window, migrations.RunPython.noop),
    ]
