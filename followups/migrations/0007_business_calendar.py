from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("followups", "0006_working_day")]

    operations = []
