from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("incidents", "0022_incident_search")]

    operations = []
