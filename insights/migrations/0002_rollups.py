import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name='TallyCursor',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('folded_until', models.DateTimeField()),
            ],
        ),
        migrations.CreateModel(
            name='Tally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('local_date', models.DateField()),
                ('utc_date', models.DateField()),
                ('dimension', models.CharField(blank=True, max_length=12)),
                ('key', models.CharField(blank=True, max_length=40)),
                ('logged', models.PositiveIntegerField(default=0)),
                ('responded', models.PositiveIntegerField(default=0)),
                ('rule_met', models.PositiveIntegerField(default=0)),
                ('unanswered_window', models.PositiveIntegerField(null=True)),
                ('fixed', models.PositiveIntegerField(default=0)),
                ('wrapped_up', models.PositiveIntegerField(default=0)),
                ('open', models.PositiveIntegerField(default=0)),
                ('closed_late', models.PositiveIntegerField(default=0)),
                ('champion', models.PositiveIntegerField(default=0)),
                ('retained', models.PositiveIntegerField(default=0)),
                ('partial', models.PositiveIntegerField(default=0)),
                ('lost', models.PositiveIntegerField(default=0)),
                ('value_kept', models.DecimalField(decimal_places=2, default=0, max_digits=14)),
                ('gestures', models.PositiveIntegerField(default=0)),
                ('gesture_cost', models.DecimalField(decimal_places=2, default=0, max_digits=14)),
                ('checks_sent', models.PositiveIntegerField(default=0)),
                ('answered', models.PositiveIntegerField(default=0)),
                ('customer_champion', models.PositiveIntegerField(default=0)),
                ('customer_retained', models.PositiveIntegerField(default=0)),
                ('customer_partial', models.PositiveIntegerField(default=0)),
                ('customer_lost', models.PositiveIntegerField(default=0)),
                ('both_judged', models.PositiveIntegerField(default=0)),
                ('disagreed', models.PositiveIntegerField(default=0)),
                ('staff_rosier', models.PositiveIntegerField(default=0)),
                ('durations', models.JSONField(default=dict)),
                ('durations_through', models.JSONField(default=dict)),
                ('location', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='incidents.location')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('location', 'dimension', 'local_date', 'utc_date', 'key'), name='tally_unique_cell')],
            },
        ),
    ]
