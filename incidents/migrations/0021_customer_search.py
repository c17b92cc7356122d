from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0020_list_indexes"),
    ]

    operations = []
