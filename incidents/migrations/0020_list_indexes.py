"""Indexes that fit the lists: each ends in the id, so a page ordered newest (or oldest) first with the id
breaking ties is read straight from the index; the new ones come first so no read is left without one
while the old two are dropped. Why each is worth its write: see Incident.Meta.indexes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0019_problem_watch_period"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(fields=["location", "logged_at", "id"], name="incident_location_logged_id"),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(fields=["organization", "logged_at", "id"], name="incident_org_logged_id"),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(condition=models.Q(("closed_at__isnull", True)), fields=["organization", "logged_at", "id"],
                               name="incident_org_open_logged"),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(fields=["organization", "updated_at", "id"], name="incident_org_updated"),
        ),
        migrations.RemoveIndex(model_name="incident", name="incident_location_logged"),
        migrations.RemoveIndex(model_name="incident", name="incident_org_logged"),
    ]
