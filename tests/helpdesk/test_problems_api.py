"""Problems over the API: a helpdesk lists, reads, opens and changes its organization's problems and their
corrective actions through the same services as the problem pages, and hears of them as `problem.*` webhooks."""

import datetime
import json

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from helpdesk import services as api_services
from helpdesk import webhooks
from helpdesk.models import WebhookDelivery, WebhookOutbox
from helpdesk.webhooks import PROBLEM_EVENT_TYPES, PROBLEM_INTERNAL_KINDS
from problems import services as problem_services
from problems.models import CorrectiveAction, Problem, ProblemEvent
from problems.patterns import Pattern
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def problem(manager, location, clock_at_start):
    return problem_services.open_problem(
        by=manager, title="Cold food on Wednesday afternoons", owner=manager, suspected_cause="One cook on the pass",
        pattern=Pattern(location_id=location.pk, weekday=3, hour_from=14, hour_to=15))


def body(**overrides):
    return {"title": "Coffee machine in the North region", "owner": "mona",
            "pattern": {"region": "North", "category": "Kitchen"}, **overrides}


# --- Reading ------------------------------------------------------------------------------------


def test_a_problem_reads_with_its_pattern_in_words_its_counts_verdict_and_version(api, problem, frontline, location):
    factories.log_incident(user=frontline, location=location)  # Wed 14:00 at Riverside: fits the pattern

    response = api.get(f"/api/v1/problems/{problem.pk}/")

    assert response.status_code == 200
    data = response.json()
    assert data["title"] == "Cold food on Wednesday afternoons" and data["owner"] == "mona"
    assert data["pattern"]["location"] == {"code": "riverside", "name": "Riverside"}
    assert data["pattern_text"] == "Wed 14:00–15:00 at Riverside"
    assert data["counts"] == {"incidents": 1, "open_actions": 0, "overdue_actions": 0}
    assert data["verdict"] == {"kind": "not_marked", "text": "No fix is marked done yet."}
    assert data["version"] == 1 and data["url"] == f"/api/v1/problems/{problem.pk}/"
    assert response["ETag"] == f'"problem-{problem.pk}-v1"'


def test_the_list_filters_strictly_and_pages_by_cursor(api, problem, manager, clock_at_start):
    clock_at_start.shift(datetime.timedelta(hours=1))
    second = problem_services.open_problem(by=manager, title="Late breakfasts", owner=manager)
    problem_services.change_status(second, by=manager, version=1, status="closed")

    assert [row["id"] for row in api.get("/api/v1/problems/").json()["results"]] == [second.pk, problem.pk]
    assert [row["id"] for row in api.get("/api/v1/problems/?open=true").json()["results"]] == [problem.pk]
    assert [row["id"] for row in api.get("/api/v1/problems/?status=closed").json()["results"]] == [second.pk]
    assert [row["id"] for row in api.get("/api/v1/problems/?owner=mona&ordering=id").json()["results"]] == [problem.pk, second.pk]
    first_page = api.get("/api/v1/problems/?page_size=1").json()
    rest = api.get(first_page["next"]).json()
    assert [row["id"] for row in rest["results"]] == [problem.pk]
    for query, field in (("open=maybe", "open"), ("owner=nobody", "owner"), ("colour=red", "colour"),
                         ("updated_since=yesterday", "updated_since"), ("status=asleep", "status")):
        answer = api.get(f"/api/v1/problems/?{query}")
        assert answer.status_code == 400 and field in answer.json()["errors"], query


def test_another_organizations_problem_is_not_found(other_api, problem):
    assert other_api.get(f"/api/v1/problems/{problem.pk}/").status_code == 404
    assert other_api.patch(f"/api/v1/problems/{problem.pk}/", {"title": "Mine now"}, format="json").status_code == 404
    assert other_api.post(f"/api/v1/problems/{problem.pk}/actions/", {}, format="json").status_code == 404
    assert other_api.get(f"/api/v1/problems/{problem.pk}/incidents/").status_code == 404
    assert other_api.get("/api/v1/problems/").json()["results"] == []
    assert Problem.objects.get(pk=problem.pk).title == "Cold food on Wednesday afternoons"


def test_the_linked_incidents_page_lists_what_the_pattern_linked(api, problem, frontline, location, clock_at_start):
    matching = factories.log_incident(user=frontline, location=location)
    clock_at_start.shift(datetime.timedelta(hours=2))  # 16:00: outside the window
    factories.log_incident(user=frontline, location=location)

    rows = api.get(f"/api/v1/problems/{problem.pk}/incidents/").json()["results"]

    assert [row["reference"] for row in rows] == [matching.reference]


# --- Opening and changing -------------------------------------------------------------------------


def test_a_helpdesk_opens_a_problem_for_its_organization(api, helpdesk, manager, other_location, clock_at_start):
    manager.organization.categories.create(name="Kitchen")

    response = api.post("/api/v1/problems/", body(suspected_cause="Descaling skipped"), format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["pattern_text"] == "Kitchen in the North region"
    assert data["pattern"]["category"]["name"] == "Kitchen" and data["suspected_cause"] == "Descaling skipped"
    assert response["Location"] == data["url"]
    by_id = api.post("/api/v1/problems/", body(pattern={"category": str(data["pattern"]["category"]["id"])}), format="json")
    assert by_id.json()["pattern_text"] == "Kitchen"
    problem = Problem.objects.get(pk=data["id"])
    assert problem.opened_by == helpdesk.user and problem.has_pattern
    assert problem.events.get().kind == ProblemEvent.Kind.OPENED


@pytest.mark.parametrize("change, field", [
    ({"owner": "nobody"}, "owner"),
    ({"title": ""}, "title"),
    ({"pattern": {"location": "atlantis"}}, "pattern.location"),
    ({"pattern": {"hour_from": 16, "hour_to": 15}}, "pattern.hour_to"),
    ({"pattern": {"hour_from": 16}}, "pattern.hour_to"),
    ({"pattern": {"colour": "red"}}, "pattern.colour"),
    ({"unknown": 1}, "unknown"),
])
def test_a_create_with_bad_input_names_the_field_and_writes_nothing(api, manager, change, field):
    response = api.post("/api/v1/problems/", body(**{"pattern": {}, **change}), format="json")

    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert not Problem.objects.exists() and not ProblemEvent.objects.exists()


def test_an_owner_outside_the_organization_is_a_field_error(api, other_organization, manager, problem):
    factories.UserFactory(username="stranger", organization=other_organization, role="manager")

    created = api.post("/api/v1/problems/", body(owner="stranger", pattern={}), format="json")
    changed = api.patch(f"/api/v1/problems/{problem.pk}/", {"owner": "stranger"}, format="json")

    assert created.status_code == changed.status_code == 400
    assert created.json()["errors"]["owner"] == changed.json()["errors"]["owner"] == ["Unknown member of staff."]
    assert Problem.objects.get(pk=problem.pk).owner == manager


def test_frontline_staff_cannot_open_a_problem(frontline):
    from rest_framework.test import APIClient

    http = APIClient()
    http.force_authenticate(frontline)

    response = http.post("/api/v1/problems/", body(pattern={}), format="json")

    assert response.status_code == 403 and not Problem.objects.exists()


def test_a_patch_changes_details_marks_the_fix_and_closes_in_one_go(api, problem, clock_at_start):
    etag = api.get(f"/api/v1/problems/{problem.pk}/")["ETag"]
    fixed_at = (timezone.now() - datetime.timedelta(hours=3)).isoformat()

    response = api.patch(f"/api/v1/problems/{problem.pk}/", {
        "confirmed_cause": "One cook on the pass at the show rush", "fixed_at": fixed_at,
        "pattern": {"location": "riverside", "weekday": 3}}, format="json", HTTP_IF_MATCH=etag)

    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["status"] == "watching" and data["confirmed_cause"].startswith("One cook")
    assert data["pattern_text"] == "Wed at Riverside" and data["fixed_at"] is not None
    assert data["verdict"]["kind"] == "too_early"
    assert data["version"] == 3 and response["ETag"] == f'"problem-{problem.pk}-v3"'
    assert [event.kind for event in problem.events.all()] == ["opened", "changed", "fix_marked"]

    closed = api.patch(f"/api/v1/problems/{problem.pk}/", {"status": "closed"}, format="json", HTTP_IF_MATCH=response["ETag"])
    assert closed.json()["status"] == "closed" and closed.json()["closed_at"]


def test_a_stale_if_match_answers_412_and_changes_nothing(api, problem, manager):
    etag = api.get(f"/api/v1/problems/{problem.pk}/")["ETag"]
    problem_services.update_problem(problem, by=manager, version=1, title="Cold food, Wednesdays")  # meanwhile, on the page

    response = api.patch(f"/api/v1/problems/{problem.pk}/", {"suspected_cause": "Something else"}, format="json",
                         HTTP_IF_MATCH=etag)

    assert response.status_code == 412 and response.json()["code"] == "precondition_failed"
    assert Problem.objects.get(pk=problem.pk).suspected_cause == "One cook on the pass"


def test_a_change_between_the_check_and_the_lock_is_still_refused(api, problem, manager, monkeypatch):
    """If-Match matched the row read, but another save landed before the row lock: the service's version
    check refuses it, as a 412 too."""
    etag = api.get(f"/api/v1/problems/{problem.pk}/")["ETag"]
    real_lock = problem_services._lock

    def slow_lock(row, by, version):
        Problem.objects.filter(pk=row.pk).update(version=2)  # someone saved just now
        return real_lock(row, by, version)

    monkeypatch.setattr(problem_services, "_lock", slow_lock)

    response = api.patch(f"/api/v1/problems/{problem.pk}/", {"title": "Mine"}, format="json", HTTP_IF_MATCH=etag)

    assert response.status_code == 412
    assert Problem.objects.get(pk=problem.pk).title == "Cold food on Wednesday afternoons"


def test_a_fix_date_in_the_future_is_a_field_error(api, problem, clock_at_start):
    tomorrow = (timezone.now() + datetime.timedelta(days=1)).isoformat()

    response = api.patch(f"/api/v1/problems/{problem.pk}/", {"fixed_at": tomorrow, "title": "Renamed"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"fixed_at": ["Cannot be in the future."]}
    assert Problem.objects.get(pk=problem.pk).title == "Cold food on Wednesday afternoons"  # nothing half-written


def test_a_status_the_rules_do_not_allow_is_a_field_error(api, problem):
    response = api.patch(f"/api/v1/problems/{problem.pk}/", {"status": "watching"}, format="json")

    assert response.status_code == 400 and "status" in response.json()["errors"]


# --- Corrective actions ----------------------------------------------------------------------------


def test_actions_are_added_listed_and_marked_done(api, problem, helpdesk, clock_at_start):
    added = api.post(f"/api/v1/problems/{problem.pk}/actions/",
                     {"description": "Second cook on Wednesdays", "owner": "mona", "due_on": "2026-03-06"}, format="json")
    assert added.status_code == 201, added.json()
    action = added.json()
    assert action["owner"] == "mona" and not action["is_done"] and not action["is_overdue"]

    clock_at_start.shift(datetime.timedelta(days=3))  # Saturday: past its due day
    assert [row["is_overdue"] for row in api.get(f"/api/v1/problems/{problem.pk}/actions/").json()] == [True]
    assert api.get(f"/api/v1/problems/{problem.pk}/").json()["counts"]["overdue_actions"] == 1

    done = api.post(f"/api/v1/problems/{problem.pk}/actions/{action['id']}/done/", {}, format="json")

    assert done.status_code == 200 and done.json()["is_done"] and done.json()["done_by"] == helpdesk.user.username
    assert api.get(f"/api/v1/problems/{problem.pk}/").json()["counts"] == {"incidents": 0, "open_actions": 0,
                                                                           "overdue_actions": 0}


def test_an_action_due_before_the_problem_was_opened_is_a_field_error(api, problem):
    response = api.post(f"/api/v1/problems/{problem.pk}/actions/",
                        {"description": "Too late", "owner": "mona", "due_on": "2026-03-01"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"due_on": ["An action cannot be due before the problem was opened."]}
    assert not CorrectiveAction.objects.exists()


def test_another_problems_action_is_not_found(api, problem, manager):
    other = problem_services.open_problem(by=manager, title="Another", owner=manager)
    action = problem_services.add_action(other, by=manager, description="Check", owner=manager,
                                         due_on=datetime.date(2026, 3, 9))

    assert api.post(f"/api/v1/problems/{problem.pk}/actions/{action.pk}/done/", {}, format="json").status_code == 404
    assert CorrectiveAction.objects.get(pk=action.pk).done_at is None


# --- Webhooks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(ProblemEvent.Kind))
def test_each_problem_event_kind_is_a_webhook_type_or_marked_internal(kind):
    assert (kind in PROBLEM_EVENT_TYPES) != (kind in PROBLEM_INTERNAL_KINDS), kind


def test_a_problem_event_reaches_the_receiver_as_it_commits(helpdesk, receiver, manager, location, clock_at_start,
                                                            django_capture_on_commit_callbacks, monkeypatch):
    endpoint = api_services.register_webhook(client=helpdesk, url=receiver.url, events=["problem.opened"])
    monkeypatch.setattr(webhooks, "publish_senders", lambda ids: [webhooks.send_due(pk) for pk in ids])

    with django_capture_on_commit_callbacks(execute=True):
        problem = problem_services.open_problem(by=manager, title="Coffee machine", owner=manager,
                                                pattern=Pattern(region="North"))

    (request,) = receiver.requests
    payload = json.loads(request["body"])
    assert request["headers"]["Recovery-Event-Type"] == "problem.opened"
    assert payload["id"] == request["headers"]["webhook-id"] == f"pev_{problem.events.get().pk}"
    assert payload["type"] == "problem.opened"
    assert payload["data"]["problem"]["id"] == problem.pk and "verdict" not in payload["data"]["problem"]
    assert payload["data"]["problem"]["pattern_text"] == "in the North region"
    assert payload["data"]["event"] == {"kind": "opened", "summary": problem.events.get().summary, "actor": "mona",
                                        "after": {"owner": "mona", "pattern": Pattern(region="North").as_fields()}}
    delivery = WebhookDelivery.objects.get()
    assert delivery.endpoint == endpoint and delivery.incident is None and delivery.status == "delivered"


def test_the_pump_sends_a_problem_event_whose_commit_hook_failed(helpdesk, receiver, problem, manager, clock_at_start,
                                                                 django_capture_on_commit_callbacks, monkeypatch):
    clock_at_start.shift(datetime.timedelta(minutes=1))  # the endpoint hears of what happens after it was added
    api_services.register_webhook(client=helpdesk, url=receiver.url)

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away after the commit")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        action = problem_services.add_action(problem, by=manager, description="Second cook", owner=manager,
                                             due_on=datetime.date(2026, 3, 6))
    monkeypatch.setattr(webhooks, "_problem_event_deliveries", broken)
    failed = 0
    for callback in callbacks:  # as the commit runs them: robust, a failure is logged and left behind
        try:
            callback()
        except RuntimeError:
            failed += 1
    monkeypatch.undo()
    assert failed == 1 and not WebhookDelivery.objects.exists()  # the commit hook failed, the action stands

    due = webhooks.pump(now=timezone.now())

    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.event_type == "problem.action_added" and delivery.event_id.startswith("pev_")
    assert delivery.payload["data"]["event"]["after"]["action"] == action.pk
    assert webhooks.deliver(due[0], now=timezone.now()).status == "delivered"
    assert json.loads(receiver.requests[0]["body"])["type"] == "problem.action_added"
    # A second pass makes nothing again, and the cursor moved past the problem's events.
    webhooks.pump(now=timezone.now())
    assert WebhookDelivery.objects.count() == 1
    assert WebhookOutbox.objects.get().last_problem_event_id == ProblemEvent.objects.latest("id").pk


def test_another_organizations_problem_events_are_never_sent(helpdesk, receiver, other_organization, clock_at_start):
    api_services.register_webhook(client=helpdesk, url=receiver.url)
    boss = factories.UserFactory(organization=other_organization, role="admin")
    problem_services.open_problem(by=boss, title="Theirs", owner=boss)

    webhooks.pump(now=timezone.now())

    assert not WebhookDelivery.objects.exists()


def test_an_incident_matching_the_pattern_is_sent_as_incident_linked(helpdesk, receiver, problem, frontline, location):
    api_services.register_webhook(client=helpdesk, url=receiver.url, events=["problem.incident_linked"])
    incident = factories.log_incident(user=frontline, location=location)

    webhooks.pump(now=timezone.now())

    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.event_type == "problem.incident_linked"
    assert delivery.payload["data"]["event"]["after"]["reference"] == incident.reference
    assert delivery.payload["data"]["problem"]["counts"]["incidents"] == 1


def test_an_endpoint_may_subscribe_to_problem_events(api):
    response = api.post("/api/v1/webhooks/", {"url": "https://helpdesk.example.com/hooks",
                                              "events": ["problem.updated", "problem.action_overdue"]}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["events"] == ["problem.updated", "problem.action_overdue"]


# --- Generated requests ------------------------------------------------------------------------------


@pytest.fixture
def problems_schema(organization, location):
    # As tests/helpdesk/test_schema.py: straight through WSGI, without closing the test's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


generated = schemathesis.pytest.from_fixture("problems_schema").include(path_regex="^/api/v1/problems/")


@pytest.fixture
def fuzz_token(organization, location, manager, frontline):
    client, key = api_services.create_api_client(organization=organization, name="Fuzzer", rate_limit_per_minute=100_000)
    # Something to find: a problem with an action and a linked incident, with the smallest ids.
    problem = problem_services.open_problem(by=manager, title="Found", owner=manager, pattern=Pattern(location_id=location.pk))
    problem_services.add_action(problem, by=manager, description="Check", owner=manager, due_on=timezone.localdate())
    factories.log_incident(user=frontline, location=location)
    return key


@generated.parametrize()
@hypothesis_settings(max_examples=25, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_generated_requests_about_problems_never_answer_5xx_and_answer_as_documented(case, fuzz_token):
    case.call_and_validate(
        headers={"Authorization": f"Token {fuzz_token}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )


# --- The contract ------------------------------------------------------------------------------------


def walk_problems(call, manager):
    """For the contract walk (tests/helpdesk/test_contract.py): every problem operation, from the document."""
    created = call("problems_create", 201, headers={"Idempotency-Key": "walk-problem"}, body={
        "title": "Cold soup before shows", "owner": manager.username, "suspected_cause": "Pass unattended",
        "pattern": {"location": "riverside", "busyness": "", "channel": "", "region": ""}})
    on_it = {"id": created.json()["id"]}
    factories.log_incident(user=manager, location=manager.locations.get(code="riverside"))  # it happened again
    for name, value in {"status": "investigating", "open": "true", "owner": manager.username, "ordering": "-updated_at",
                        "updated_since": (timezone.now() - datetime.timedelta(hours=1)).isoformat(),
                        "page_size": 10}.items():
        assert [row["id"] for row in call("problems_list", 200, query={name: value}).json()["results"]] == [on_it["id"]], name
    call("problems_list", 400, query={"status": "asleep"})
    page = call("problems_list", 200, query={"page_size": 1, "cursor": ""}).json()
    assert page["next"] is None
    read = call("problems_retrieve", 200, path=on_it)
    etag = {name.lower(): values for name, values in read.headers.items()}["etag"]
    etag = etag[0] if isinstance(etag, list) else etag
    call("problems_partial_update", 200, path=on_it, headers={"If-Match": etag}, body={"title": "Cold soup at the rush"})
    call("problems_partial_update", 412, path=on_it, headers={"If-Match": etag}, body={"title": "Stale"})
    action = call("problems_actions_create", 201, path=on_it, body={
        "description": "Second cook", "owner": manager.username, "due_on": timezone.localdate().isoformat()}).json()
    assert [row["id"] for row in call("problems_actions_list", 200, path=on_it).json()] == [action["id"]]
    call("problems_actions_done_create", 200, path={**on_it, "action_id": action["id"]}, body={})
    linked = call("problems_incidents_list", 200, path=on_it, query={"page_size": 5, "cursor": ""}).json()
    assert linked["results"] and linked["results"][0]["id"]
    call("problems_partial_update", 400, path=on_it, body={"fixed_at": "2999-01-01T00:00:00Z"})


def test_the_error_documents_types_keep_their_addresses_beside_the_problems(api):
    """`/api/v1/problems/<code>` (no slash) still describes an error document's type; their index moved to
    /api/v1/problems/types/ when /api/v1/problems/ became the list of problems."""
    from rest_framework.test import APIClient

    described = APIClient().get("/api/v1/problems/validation_error")
    index = APIClient().get("/api/v1/problems/types/")

    assert described.status_code == 200 and described.json()["title"] == "Invalid input"
    assert "/api/v1/problems/validation_error" in [row["type"] for row in index.json()["problems"]]
    assert api.get("/api/v1/problems/").json() == {"next": None, "previous": None, "results": []}
