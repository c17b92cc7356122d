from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("incidents", "0023_care_flag_expiry")]

    operations = []
