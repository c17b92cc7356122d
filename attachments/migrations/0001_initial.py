import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("incidents", "0026_attachment_events"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Attachment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[("photo", "Photo"), ("pdf", "PDF")], max_length=10)),
                ("step", models.CharField(blank=True, max_length=20)),
                ("file", models.CharField(max_length=200)),
                ("thumbnail", models.CharField(blank=True, max_length=200)),
                ("content_type", models.CharField(max_length=40)),
                ("size_bytes", models.PositiveIntegerField()),
                ("width", models.PositiveIntegerField(blank=True, null=True)),
                ("height", models.PositiveIntegerField(blank=True, null=True)),
                ("original_name", models.CharField(max_length=150)),
                ("uploaded_at", models.DateTimeField()),
                ("incident", models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="attachments", to="incidents.incident")),
                ("uploaded_by", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "ordering": ["uploaded_at", "id"],
                "indexes": [models.Index(fields=["incident", "uploaded_at"], name="attachment_incident_at")],
            },
        ),
    ]
