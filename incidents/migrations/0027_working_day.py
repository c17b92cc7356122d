from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("incidents", "0026_attachment_events")]

    operations = []
