from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("incidents", "0024_business_calendar")]

    operations = []
