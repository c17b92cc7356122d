"""The API's models moved from `incidents` to `helpdesk` (incidents' 0014, helpdesk's 0001): a database
migrated from before the move keeps every row, and its admin permissions follow the models."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from helpdesk import services as api_services
from helpdesk.models import ApiClient, WebhookEndpoint, WebhookOutbox

BEFORE = [("incidents", "0013_weekly_digest_moves_to_insights")]


@pytest.mark.django_db(transaction=True)
def test_a_database_from_before_the_move_keeps_its_clients_endpoints_and_permissions(organization, location):
    kept, _ = api_services.create_api_client(organization=organization, name="Helpdesk")
    endpoint = WebhookEndpoint.objects.create(client=kept, url="https://helpdesk.example/hook")
    content_type = ContentType.objects.get_for_model(ApiClient)
    permission = Permission.objects.get(content_type=content_type, codename="change_apiclient")
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    # Before the move the models belong to `incidents`; a row written then must be there after.
    old = executor.loader.project_state(BEFORE).apps
    assert old.get_model("incidents", "ApiClient").objects.get().name == "Helpdesk"
    assert ContentType.objects.get(pk=content_type.pk).app_label == "incidents"
    old.get_model("incidents", "WebhookOutbox").objects.create(name="webhooks", last_event_id=41)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    ContentType.objects.clear_cache()
    assert ApiClient.objects.get().pk == kept.pk
    assert WebhookEndpoint.objects.get().pk == endpoint.pk and WebhookEndpoint.objects.get().client_id == kept.pk
    assert WebhookOutbox.objects.get(name="webhooks").last_event_id == 41
    moved = ContentType.objects.get(pk=content_type.pk)
    assert (moved.app_label, moved.model) == ("helpdesk", "apiclient")
    assert Permission.objects.get(pk=permission.pk).content_type_id == moved.pk
    assert not ContentType.objects.filter(app_label="incidents", model="apiclient").exists()
