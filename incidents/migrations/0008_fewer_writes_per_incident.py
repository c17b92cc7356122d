import django.db.models.deletion
import incidents.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0007_customer_email_any_case'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='customer',
            name='incidents_c_organiz_ca7ae8_idx',
        ),
        migrations.AlterField(
            model_name='customer',
            name='organization',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='customers', to='incidents.organization'),
        ),
        migrations.AlterField(
            model_name='event',
            name='incident',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='incidents.incident'),
        ),
        migrations.AlterField(
            model_name='incident',
            name='location',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='incidents', to='incidents.location'),
        ),
        migrations.AlterField(
            model_name='incident',
            name='organization',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='incidents', to='incidents.organization'),
        ),
        migrations.AlterField(
            model_name='incident',
            name='owner',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='incidents_owned', to=settings.AUTH_USER_MODEL),
        ),
        # A column cannot become generated in place: drop it and add it back, computed from the id
        # (the same R-000123 every row already had).
        migrations.RemoveField(model_name='incident', name='reference'),
        migrations.AddField(
            model_name='incident',
            name='reference',
            field=models.GeneratedField(db_persist=True, expression=incidents.models.ReferenceOf('id'), output_field=models.CharField(max_length=20)),
        ),
        migrations.AddIndex(
            model_name='incident',
            index=models.Index(fields=['reference'], name='incident_reference'),
        ),
    ]
