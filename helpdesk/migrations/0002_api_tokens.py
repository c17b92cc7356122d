"""API tokens get their own record, kept as a SHA-256; every API client's existing token moves into it.

The move copies each client's `rest_framework.authtoken` key as its hash, so a live integration keeps
signing in with the key it has, then deletes the plain-text row. Members of staff keep their personal
authtoken tokens. Going back drops the new table: the moved tokens cannot be written back (only their
hash is known), so clients then need new ones.
"""

import hashlib

import django.db.models.deletion
from django.db import migrations, models


def move_client_tokens(apps, schema_editor):
    ApiClient = apps.get_model("helpdesk", "ApiClient")
    ApiToken = apps.get_model("helpdesk", "ApiToken")
    Token = apps.get_model("authtoken", "Token")
    client_of_user = dict(ApiClient.objects.values_list("user_id", "pk"))
    moved = Token.objects.filter(user_id__in=list(client_of_user))
    ApiToken.objects.bulk_create(
        ApiToken(
            client_id=client_of_user[token.user_id],
            # The first characters name the token in logs, as `helpdesk.tokens.prefix_of` does.
            prefix=token.key[:8],
            key_hash=hashlib.sha256(token.key.encode()).hexdigest(),
            scope="write",
        )
        for token in moved
    )
    moved.delete()


class Migration(migrations.Migration):

    dependencies = [
        ('helpdesk', '0001_initial'),
        ('authtoken', '0004_alter_tokenproxy_options'),
    ]

    operations = [
        migrations.CreateModel(
            name='ApiToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('prefix', models.CharField(help_text="The token's first characters, to recognize it.", max_length=20)),
                ('key_hash', models.CharField(help_text='SHA-256 of the whole token, hex.', max_length=64, unique=True)),
                ('scope', models.CharField(choices=[('read', 'Read only'), ('write', 'Read and write')], default='write', max_length=10)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('expires_at', models.DateTimeField(blank=True, help_text='Empty: until revoked.', null=True)),
                ('revoked_at', models.DateTimeField(blank=True, null=True)),
                ('client', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='tokens', to='helpdesk.apiclient')),
            ],
            options={
                'verbose_name': 'API token',
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.RunPython(move_client_tokens, migrations.RunPython.noop, elidable=False),
    ]
