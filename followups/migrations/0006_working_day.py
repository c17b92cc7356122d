from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("followups", "0005_export_ready_notifications")]

    operations = []
