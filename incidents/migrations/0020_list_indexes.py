from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0019_problem_watch_period"),
    ]

    operations = []
