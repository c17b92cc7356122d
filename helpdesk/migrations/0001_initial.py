import django.db.models.deletion
import helpdesk.models
from django.conf import settings
from django.db import migrations, models


MODELS = ["apiclient", "idempotencykey", "webhookendpoint", "webhookdelivery", "webhookattempt", "webhookoutbox"]


def content_types_follow(apps, schema_editor, old="incidents", new="helpdesk"):
    """The models' content types move with them, so admin permissions and the admin's change history
    keep pointing at them."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.using(schema_editor.connection.alias).filter(app_label=old, model__in=MODELS).update(app_label=new)


def content_types_go_back(apps, schema_editor):
    content_types_follow(apps, schema_editor, old="helpdesk", new="incidents")


class Migration(migrations.Migration):
    # The API's models, moved here from `incidents` (its migration 0014 forgets them). Their tables
    # were made by incidents' 0004 and are kept as they are (`db_table`): no table or row moves.

    initial = True

    dependencies = [
        ('incidents', '0014_api_moves_to_helpdesk'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='WebhookOutbox',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=40, unique=True)),
                        ('last_event_id', models.BigIntegerField(default=0)),
                        ('last_reminder_id', models.BigIntegerField(default=0)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        'verbose_name_plural': 'webhook outbox',
                        'db_table': 'incidents_webhookoutbox',
                    },
                ),
                migrations.CreateModel(
                    name='ApiClient',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=100)),
                        ('rate_limit_per_minute', models.PositiveIntegerField(default=600, help_text='Requests per minute before the API answers 429.')),
                        ('active', models.BooleanField(default=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_clients', to='incidents.organization')),
                        ('user', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='api_client', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'API client',
                        'db_table': 'incidents_apiclient',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='IdempotencyKey',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('key', models.CharField(max_length=255)),
                        ('request_hash', models.CharField(help_text='SHA-256 of method, path and body.', max_length=64)),
                        ('status_code', models.PositiveSmallIntegerField()),
                        ('response_body', models.JSONField(blank=True, null=True)),
                        ('response_headers', models.JSONField(blank=True, default=dict)),
                        ('created_at', models.DateTimeField(db_index=True)),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'incidents_idempotencykey',
                    },
                ),
                migrations.CreateModel(
                    name='WebhookDelivery',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('event_id', models.CharField(max_length=40)),
                        ('event_type', models.CharField(max_length=40)),
                        ('payload', models.JSONField()),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('delivered', 'Delivered'), ('failed', 'Gave up')], default='pending', max_length=20)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('next_attempt_at', models.DateTimeField()),
                        ('last_status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('last_error', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField()),
                        ('delivered_at', models.DateTimeField(blank=True, null=True)),
                        ('incident', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='incidents.incident')),
                    ],
                    options={
                        'verbose_name_plural': 'webhook deliveries',
                        'db_table': 'incidents_webhookdelivery',
                        'ordering': ['-id'],
                    },
                ),
                migrations.CreateModel(
                    name='WebhookAttempt',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('at', models.DateTimeField()),
                        ('status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('error', models.TextField(blank=True)),
                        ('duration_ms', models.PositiveIntegerField(default=0)),
                        ('delivery', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attempt_log', to='helpdesk.webhookdelivery')),
                    ],
                    options={
                        'db_table': 'incidents_webhookattempt',
                        'ordering': ['at', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='WebhookEndpoint',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('url', models.URLField(max_length=500)),
                        ('events', models.JSONField(blank=True, default=list, help_text='Event types to send; empty means all.')),
                        ('secret', models.CharField(default=helpdesk.models.new_webhook_secret, help_text='Signs every delivery.', max_length=100)),
                        ('active', models.BooleanField(default=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('client', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='webhooks', to='helpdesk.apiclient')),
                    ],
                    options={
                        'db_table': 'incidents_webhookendpoint',
                        'ordering': ['id'],
                    },
                ),
                migrations.AddField(
                    model_name='webhookdelivery',
                    name='endpoint',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='helpdesk.webhookendpoint'),
                ),
                migrations.AddConstraint(
                    model_name='apiclient',
                    constraint=models.UniqueConstraint(fields=('organization', 'name'), name='api_client_name_unique'),
                ),
                migrations.AddConstraint(
                    model_name='idempotencykey',
                    constraint=models.UniqueConstraint(fields=('user', 'key'), name='idempotency_key_once_per_user'),
                ),
                migrations.AddIndex(
                    model_name='webhookdelivery',
                    index=models.Index(condition=models.Q(('status', 'pending')), fields=['next_attempt_at'], name='webhook_delivery_due'),
                ),
                migrations.AddConstraint(
                    model_name='webhookdelivery',
                    constraint=models.UniqueConstraint(fields=('endpoint', 'event_id'), name='webhook_delivery_once_per_event'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_follow, content_types_go_back),
    ]
