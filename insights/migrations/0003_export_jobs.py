import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
        ("insights", "0002_rollups"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ExportJob",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("query", models.TextField(blank=True)),
                ("filename", models.CharField(max_length=100)),
                ("status", models.CharField(choices=[("queued", "Waiting for a worker"), ("running", "Being written"), ("ready", "Ready to download"), ("failed", "Failed"), ("expired", "Expired")], default="queued", max_length=20)),
                ("rows_expected", models.PositiveIntegerField(default=0, help_text="Counted when the worker starts; for the progress bar.")),
                ("rows_written", models.PositiveIntegerField(default=0)),
                ("file_name", models.CharField(blank=True, max_length=300)),
                ("error", models.TextField(blank=True)),
                ("created_at", models.DateTimeField()),
                ("progress_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("expires_at", models.DateTimeField(blank=True, null=True)),
                ("organization", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="incidents.organization")),
                ("requested_by", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="export_jobs", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "indexes": [models.Index(condition=models.Q(("status", "ready")), fields=["expires_at"], name="export_ready_expiry")],
            },
        ),
    ]
