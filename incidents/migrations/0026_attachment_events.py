from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("incidents", "0025_languages")]

    operations = []
