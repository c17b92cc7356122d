from django.db import migrations


class Migration(migrations.Migration):
    # The API's models move to the helpdesk app (its migration 0001). Only Django's idea of where they
    # live changes: the tables, and every row in them, stay where they are.

    dependencies = [
        ('incidents', '0013_weekly_digest_moves_to_insights'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='apiclient',
                    name='organization',
                ),
                migrations.RemoveField(
                    model_name='apiclient',
                    name='user',
                ),
                migrations.RemoveField(
                    model_name='webhookendpoint',
                    name='client',
                ),
                migrations.RemoveField(
                    model_name='idempotencykey',
                    name='user',
                ),
                migrations.RemoveField(
                    model_name='webhookattempt',
                    name='delivery',
                ),
                migrations.RemoveField(
                    model_name='webhookdelivery',
                    name='endpoint',
                ),
                migrations.RemoveField(
                    model_name='webhookdelivery',
                    name='incident',
                ),
                migrations.DeleteModel(
                    name='WebhookOutbox',
                ),
                migrations.DeleteModel(
                    name='ApiClient',
                ),
                migrations.DeleteModel(
                    name='IdempotencyKey',
                ),
                migrations.DeleteModel(
                    name='WebhookAttempt',
                ),
                migrations.DeleteModel(
                    name='WebhookEndpoint',
                ),
                migrations.DeleteModel(
                    name='WebhookDelivery',
                ),
            ],
            database_operations=[],
        ),
    ]
