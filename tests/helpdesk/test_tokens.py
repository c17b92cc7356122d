"""API tokens as secrets: kept as a hash and shown once, named by a prefix in logs, scoped, expiring,
rotated with an overlap and revoked; the same rules from the API, the commands and the Settings page."""

import datetime
import hashlib
import importlib
import io
import json
import logging

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from helpdesk import services as api_services
from helpdesk import tokens
from helpdesk.models import ApiClient, ApiToken
from tests.helpdesk.conftest import new_incident_body

pytestmark = pytest.mark.django_db


def signed_in(key):
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return http


def status_of(key):
    return signed_in(key).get("/api/v1/incidents/").status_code


# --- Kept as a secret ----------------------------------------------------------------------------


def test_only_the_tokens_hash_is_kept_and_its_prefix_names_it(helpdesk):
    (token,) = helpdesk.tokens.all()

    assert helpdesk.key.startswith("rcv_") and len(helpdesk.key) > 40
    assert token.prefix == helpdesk.key[:12] and token.prefix.startswith("rcv_")
    assert token.key_hash == hashlib.sha256(helpdesk.key.encode()).hexdigest()
    stored = json.dumps(list(ApiToken.objects.values()), default=str)
    assert helpdesk.key not in stored and helpdesk.key[12:] not in stored
    assert not Token.objects.filter(user=helpdesk.user).exists()  # no plain-text copy either
    assert status_of(helpdesk.key) == 200


def test_a_token_off_by_one_character_is_refused(helpdesk):
    wrong = helpdesk.key[:-1] + ("a" if helpdesk.key[-1] != "a" else "b")

    answer = signed_in(wrong).get("/api/v1/incidents/")

    assert answer.status_code == 401


def test_the_request_log_names_the_tokens_prefix_and_never_the_token(api, helpdesk, caplog):
    caplog.set_level(logging.INFO, logger="recovery.requests")

    api.get("/api/v1/incidents/")

    (entry,) = [record for record in caplog.records if record.name == "recovery.requests"]
    assert entry.token == helpdesk.tokens.get().prefix
    everything = json.dumps([vars(record) for record in caplog.records], default=str)
    assert helpdesk.key not in everything


# --- Expiry and revocation -----------------------------------------------------------------------


def test_a_token_works_until_its_expiry_and_then_answers_401_saying_so(helpdesk, clock_at_start):
    token, key = tokens.issue(helpdesk, expires_at=timezone.now() + datetime.timedelta(hours=1))

    clock_at_start.shift(datetime.timedelta(minutes=59, seconds=59))
    assert status_of(key) == 200
    clock_at_start.shift(datetime.timedelta(seconds=1))
    answer = signed_in(key).get("/api/v1/incidents/")

    assert answer.status_code == 401
    assert f"This token ({token.prefix}…) expired at" in answer.json()["message"]
    assert status_of(helpdesk.key) == 200  # the client's other token is untouched


def test_a_revoked_token_answers_401_saying_so_from_the_next_request(helpdesk, caplog):
    token = helpdesk.tokens.get()
    assert status_of(helpdesk.key) == 200
    caplog.set_level(logging.INFO, logger="recovery.requests")
    caplog.clear()

    tokens.revoke(token)
    answer = signed_in(helpdesk.key).get("/api/v1/incidents/")

    assert answer.status_code == 401
    assert "was revoked" in answer.json()["message"]
    # The refusal is logged under the token's prefix, so whoever still uses it can be found.
    (entry,) = [record for record in caplog.records if record.name == "recovery.requests"]
    assert entry.status == 401 and entry.token == token.prefix


def test_a_token_cannot_be_made_already_expired_or_with_an_unknown_scope(helpdesk):
    with pytest.raises(api_services.services.RecoveryError) as past:
        tokens.issue(helpdesk, expires_at=timezone.now())
    with pytest.raises(api_services.services.RecoveryError) as scope:
        tokens.issue(helpdesk, scope="admin")

    assert "expires_at" in past.value.field_errors and "scope" in scope.value.field_errors
    assert helpdesk.tokens.count() == 1


# --- Scopes --------------------------------------------------------------------------------------


@pytest.fixture
def reader(helpdesk):
    _, key = tokens.issue(helpdesk, scope=ApiToken.Scope.READ)
    return signed_in(key)


def test_a_read_only_token_reads_everything_its_client_sees(reader, api, location):
    api.post("/api/v1/incidents/", new_incident_body(), format="json")

    listed = reader.get("/api/v1/incidents/")

    assert listed.status_code == 200 and len(listed.json()["results"]) == 1
    assert reader.get(f"/api/v1/incidents/{listed.json()['results'][0]['id']}/timeline/").status_code == 200
    assert reader.get("/api/v1/webhooks/").status_code == 200


@pytest.mark.parametrize("method, path", [
    ("post", "/api/v1/incidents/"),
    ("patch", "/api/v1/incidents/{id}/"),
    ("post", "/api/v1/incidents/{id}/apology/"),
    ("post", "/api/v1/webhooks/"),
    ("delete", "/api/v1/webhooks/{webhook}/"),
])
def test_a_read_only_token_answers_403_on_every_write_and_changes_nothing(reader, api, helpdesk, location, method, path):
    incident = api.post("/api/v1/incidents/", new_incident_body(), format="json").json()
    webhook = api_services.register_webhook(client=helpdesk, url="https://helpdesk.example.com/hooks")
    timeline = f"/api/v1/incidents/{incident['id']}/timeline/"
    before = api.get(timeline).json()

    answer = getattr(reader, method)(path.format(id=incident["id"], webhook=webhook.pk),
                                     {**new_incident_body(external_id="T-2"), "owner": "fran", "text": "Sorry."}, format="json")

    assert answer.status_code == 403
    assert "read-only" in answer.json()["message"]
    assert helpdesk.webhooks.count() == 1
    assert api.get(timeline).json() == before
    assert len(api.get("/api/v1/incidents/").json()["results"]) == 1


def test_a_staff_members_personal_token_is_not_held_to_a_scope(frontline, location):
    key = Token.objects.create(user=frontline).key

    answer = signed_in(key).post("/api/v1/incidents/", new_incident_body(), format="json")

    assert answer.status_code == 201


def test_a_plain_text_token_of_an_api_clients_user_never_signs_in(helpdesk):
    """Clients sign in with their hashed tokens only; a leftover plain-text one is not a way in."""
    leftover = Token.objects.create(user=helpdesk.user).key

    assert status_of(leftover) == 401


# --- Rotation ------------------------------------------------------------------------------------


def test_after_a_rotation_both_work_until_the_overlap_ends_then_only_the_new_one(helpdesk, clock_at_start):
    old = helpdesk.tokens.get()

    new, new_key = tokens.rotate(old)

    assert new.scope == old.scope and new.prefix != old.prefix
    assert status_of(new_key) == status_of(helpdesk.key) == 200
    clock_at_start.shift(tokens.DEFAULT_OVERLAP - datetime.timedelta(seconds=1))
    assert status_of(helpdesk.key) == 200
    clock_at_start.shift(datetime.timedelta(seconds=1))
    assert status_of(helpdesk.key) == 401
    assert status_of(new_key) == 200


def test_a_rotation_with_no_overlap_stops_the_old_token_now(helpdesk):
    _, new_key = tokens.rotate(helpdesk.tokens.get(), keep_old_for=datetime.timedelta(0))

    assert status_of(helpdesk.key) == 401 and status_of(new_key) == 200


def test_a_rotation_never_lengthens_the_old_tokens_life_and_keeps_a_read_scope(helpdesk, clock_at_start):
    ends = timezone.now() + datetime.timedelta(hours=2)
    old, _ = tokens.issue(helpdesk, scope=ApiToken.Scope.READ, expires_at=ends)

    new, _ = tokens.rotate(old)

    old.refresh_from_db()
    assert old.expires_at == ends and new.scope == ApiToken.Scope.READ


def test_a_revoked_token_cannot_be_rotated_nor_kept_beyond_thirty_days(helpdesk):
    old = helpdesk.tokens.get()
    with pytest.raises(api_services.services.RecoveryError, match="up to 30 days"):
        tokens.rotate(old, keep_old_for=datetime.timedelta(days=31))
    tokens.revoke(old)
    with pytest.raises(api_services.services.RecoveryError, match="Only a working token"):
        tokens.rotate(old)

    assert helpdesk.tokens.count() == 1


# --- The commands --------------------------------------------------------------------------------


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_create_api_client_run_twice_prints_a_new_working_token_for_the_same_client(organization, location):
    first = run("create_api_client", "Helpdesk", "--organization", "harbour")[-1]
    said = run("create_api_client", "helpdesk", "--organization", "harbour", "--scope", "read")

    second = said[-1]
    assert ApiClient.objects.count() == 1 and first != second
    assert "already exists" in said[0] and "read token" in said[0]
    assert status_of(first) == status_of(second) == 200
    assert signed_in(second).post("/api/v1/incidents/", new_incident_body(), format="json").status_code == 403


def test_create_api_client_can_give_the_token_an_expiry(organization, clock_at_start):
    key = run("create_api_client", "Helpdesk", "--organization", "harbour", "--expires-in-days", "7")[-1]

    token = ApiToken.objects.get(key_hash=tokens.hash_of(key))
    assert token.expires_at == timezone.now() + datetime.timedelta(days=7)
    with pytest.raises(CommandError, match="1 or more"):
        run("create_api_client", "Helpdesk", "--organization", "harbour", "--expires-in-days", "0")


def test_the_rotate_command_prints_a_new_token_and_keeps_the_old_one_for_the_hours_asked(helpdesk, clock_at_start):
    said = run("rotate_api_token", "Helpdesk", "--organization", "harbour", "--keep-old-for", "2")

    new_key = said[-1]
    old = ApiToken.objects.get(key_hash=tokens.hash_of(helpdesk.key))
    assert old.expires_at == timezone.now() + datetime.timedelta(hours=2)
    assert f"the old one ({old.prefix}…) works until" in said[0]
    assert status_of(new_key) == status_of(helpdesk.key) == 200
    clock_at_start.shift(datetime.timedelta(hours=2))
    assert status_of(helpdesk.key) == 401 and status_of(new_key) == 200


def test_the_rotate_command_asks_which_token_when_a_client_has_several(helpdesk):
    second, _ = tokens.issue(helpdesk)

    with pytest.raises(CommandError, match="several working tokens"):
        run("rotate_api_token", "Helpdesk", "--organization", "harbour")
    run("rotate_api_token", "Helpdesk", "--organization", "harbour", "--token", second.prefix)

    assert helpdesk.tokens.count() == 3
    with pytest.raises(CommandError, match="No API client"):
        run("rotate_api_token", "Nobody", "--organization", "harbour")


# --- The move from plain-text tokens --------------------------------------------------------------


def test_the_migration_moves_each_clients_plain_token_to_a_hash_that_still_signs_in(organization, frontline):
    move = importlib.import_module("helpdesk.migrations.0002_api_tokens").move_client_tokens
    client, _ = api_services.create_api_client(organization=organization, name="Old helpdesk")
    client.tokens.all().delete()
    legacy = Token.objects.create(user=client.user).key  # as clients were given before
    staff = Token.objects.create(user=frontline).key

    move(apps, None)

    moved = client.tokens.get()
    assert moved.key_hash == hashlib.sha256(legacy.encode()).hexdigest()
    assert moved.prefix == legacy[:8] and moved.scope == ApiToken.Scope.WRITE and moved.expires_at is None
    assert not Token.objects.filter(user=client.user).exists()  # the plain text is gone
    assert Token.objects.filter(key=staff).exists()  # a member of staff's personal token stays
    assert status_of(legacy) == 200 and status_of(staff) == 200
