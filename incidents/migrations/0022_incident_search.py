from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("incidents", "0021_customer_search")]

    operations = []
