"""Permissions, everywhere the same: every page and API route, as each role, against objects of
another location and another organization, answers exactly what it answers for an object that does
not exist (404, or 403/405 for a door the role never has), and never shows the object's data.

The test walks the URL configuration itself, so a new route with an object in its path fails here
until the test knows which object it names.
"""

import uuid
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from attachments import services as attachment_services
from followups.models import Notification
from incidents import services
from helpdesk import services as api_services
from helpdesk.models import WebhookDelivery
from insights.models import ExportJob, SavedView
from outreach.services import draft_message
from tests import factories

pytestmark = pytest.mark.django_db
SECRET = "Zanzibar-7Q"  # in the foreign objects' text: it must never reach the wrong person
SECRETS = {"other location": f"{SECRET}-hilltop", "other organization": f"{SECRET}-rival"}
# The API's error types (api/v1/problems/<code>, no slash, and their index) are public documents, not objects.
SKIPPED_PREFIXES = ("admin/", "static/", "api/v1/schema/", "api/v1/docs/", "api/v1/problems/types/",
                    "api/v1/problems/<str:code>", "login/", "logout/", "healthz", "accounts/password/")
# One-click unsubscribe (RFC 8058): a mail provider POSTs it with no session; the signed link is the proof.
NO_SESSION_POSTS = ("messages/unsubscribe/",)
STEPS = ("apology", "review", "fix", "follow_up", "deposition", "outcome")


_PHOTO = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8cfc0000003"
                       "010100c9fe92ef0000000049454e44ae426082")  # a 1x1 PNG


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _routes(patterns=None, prefix=""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route


def _walked_routes():
    return sorted({route for route in _routes() if not route.startswith(SKIPPED_PREFIXES) and "(" not in route and route != ""})


def _incident_with_everything(user, location, customer, summary, secret):
    incident = factories.log_incident(user=user, location=location, customer=customer, summary=summary)
    services.record_apology(incident, by=user, channel="in_person", text=f"Sorry {secret}")
    services.record_review(incident, by=user, customer_account=f"Account {secret}", customer_needs="Bag back")
    services.record_fix(incident, by=user, description=f"Found it {secret}", fixed=True,
                        gesture={"kind": "credit", "description": f"Voucher {secret}", "cost": Decimal("5000")})
    draft_message(incident, kind="thank_you", body=f"Thank you {secret}", author=user)  # a message to its customer
    attachment_services.attach(incident, by=user, prepared=attachment_services.prepare_all(  # a photo of it
        [SimpleUploadedFile(f"plate-{secret}.png", _PHOTO)]))
    return incident


def _problem_behind(incident, manager, secret):
    """A problem whose pattern is the incident's location, with the incident linked, an action and an idea."""
    from problems import ideas, services as problem_services
    from problems.patterns import Pattern

    problem = problem_services.open_problem(by=manager, title=f"Cause {secret}", owner=manager,
                                            pattern=Pattern(location_id=incident.location_id), incidents=[incident])
    problem_services.add_action(problem, by=manager, description=f"Change {secret}", owner=manager,
                                due_on=timezone.localdate())
    ideas.attach_idea(problem, by=manager, incident=incident, text=f"Idea {secret}", source="staff")
    return problem


@pytest.fixture
def world(organization, location, other_location):
    rival = factories.OrganizationFactory(name="Rival Resorts", slug="rival")
    rival_location = factories.LocationFactory(organization=rival, name="Peak", code="peak")
    people = {
        "frontline": factories.UserFactory(username="fran", organization=organization, locations=[location]),
        "manager": factories.UserFactory(username="mona", organization=organization, role="manager", locations=[location]),
        "admin": factories.UserFactory(username="ada-admin", organization=organization, role="admin"),
    }
    hilltop_clerk = factories.UserFactory(username="hal", organization=organization, locations=[other_location])
    rival_clerk = factories.UserFactory(username="rob", organization=rival, locations=[rival_location])
    rival_customer = factories.CustomerFactory(organization=rival, name=f"Rival Customer {SECRET}-rival", email="rc@example.com")
    foreign = {
        # Customers belong to the whole organization (the next person to serve them, at any location,
        # sees the care flag and what happened), so the summary, copied into the flag, is no secret
        # within it; the steps of the recovery are.
        "other location": _incident_with_everything(
            hilltop_clerk, other_location, factories.CustomerFactory(organization=organization, name="Hill Customer"), "Lost luggage",
            SECRETS["other location"],
        ),
        "other organization": _incident_with_everything(
            rival_clerk, rival_location, rival_customer, f"Lost luggage {SECRETS['other organization']}", SECRETS["other organization"]
        ),
    }
    problems = {
        # Another location's problem is opened by an admin (the manager of this test's location cannot see it).
        "other location": _problem_behind(foreign["other location"], factories.UserFactory(
            username="hill-admin", organization=organization, role="admin"), SECRETS["other location"]),
        "other organization": _problem_behind(foreign["other organization"], factories.UserFactory(
            username="rival-manager", organization=rival, role="manager", locations=[rival_location]),
            SECRETS["other organization"]),
    }
    # A large export each of those people asked for (only they and their organization's admins may see it).
    exports = {whose: ExportJob.objects.create(organization=problem.organization, requested_by=problem.owner,
                                               filename=f"export-{SECRETS[whose]}.csv", created_at=timezone.now())
               for whose, problem in problems.items()}
    # A saved view each of those people keeps (only its owner may see or delete it).
    saved = {whose: SavedView.objects.create(user=problem.owner, page="open", name=f"View {SECRETS[whose]}",
                                             query="overdue=on", created_at=timezone.now())
             for whose, problem in problems.items()}
    rival_client, _ = api_services.create_api_client(organization=rival, name="Rival desk")
    webhook = api_services.register_webhook(client=rival_client, url="https://rival.example.com/hook", events=["incident.created"])
    delivery = WebhookDelivery.objects.create(
        endpoint=webhook, event_id="evt_perm", event_type="incident.created", incident=foreign["other organization"],
        payload={"secret": SECRETS["other organization"]}, next_attempt_at=timezone.now(), created_at=timezone.now())
    notification = Notification.objects.create(
        recipient=rival_clerk, incident=foreign["other organization"], kind="heads_up", title=f"Due {SECRETS['other organization']}",
        body=SECRETS["other organization"], created_at=foreign["other organization"].logged_at, dedupe_key=f"perm-{uuid.uuid4().hex}",
    )
    return {"people": people, "foreign": foreign, "rival_customer": rival_customer, "webhook": webhook, "delivery": delivery,
            "notification": notification, "rival_client": rival_client, "problems": problems,
            "exports": exports, "saved_views": saved}


def _fill(route, incident, world, nonexistent=False):
    """The route with its parameters naming the foreign `incident` (or nothing that exists)."""
    gesture = incident.gestures.first()
    values = {
        "reference": "R-999999" if nonexistent else incident.reference,
        "step": "apology",
        "pk": None,
        "provider_id": "rival",  # a single sign-on that is not set up
        "rest": "anything",  # the tail of an allauth page that is not offered
        "token": "not-a-signed-link",  # a customer's signed link (the satisfaction page): forged
        "gesture_id": gesture.pk,
        "message_id": incident.messages.first().pk,
        "username": incident.owner.username,  # a helper named in the path
        "attachment_id": incident.attachments.get().pk,
    }
    if route.startswith("settings/"):
        # Settings name the foreign incident's location, its owner, or the rival's API client.
        values["pk"] = (incident.location_id if route.startswith("settings/locations/") else
                        incident.owner_id if route.startswith("settings/staff/") else world["rival_client"].pk)
        values["webhook_pk"] = world["webhook"].pk
        values["token_pk"] = world["rival_client"].tokens.get().pk
    elif route.startswith("attachments/<"):  # a photo, named by its own id
        values["pk"] = incident.attachments.get().pk
    elif route.startswith(("incidents/", "api/v1/incidents/", "manage/incidents/")):
        values["pk"] = incident.pk
    elif route.startswith(("manage/problems/", "api/v1/problems/")):
        problem = next(problem for problem in world["problems"].values() if problem.links.filter(incident=incident).exists())
        values["pk"] = problem.pk
        values["action_pk"] = values["action_id"] = problem.actions.get().pk
        values["idea_pk"] = problem.ideas.get().pk
    elif route.startswith("manage/views/"):
        whose = next(whose for whose, foreign in world["foreign"].items() if foreign.pk == incident.pk)
        values["pk"] = world["saved_views"][whose].pk
    elif route.startswith("manage/exports/"):
        whose = next(whose for whose, foreign in world["foreign"].items() if foreign.pk == incident.pk)
        values["pk"] = world["exports"][whose].pk
    elif "customers/" in route:
        values["pk"] = world["rival_customer"].pk if incident.organization_id != world["people"]["admin"].organization_id else incident.customer_id
    elif "gestures/" in route:
        values["pk"] = gesture.pk
    elif "webhooks/" in route:
        values["pk"] = world["webhook"].pk
        values["delivery_pk"] = world["delivery"].pk
    elif "notifications/" in route:
        values["pk"] = world["notification"].pk
    if nonexistent:
        values["pk"] = 987654321
        values["webhook_pk"] = 987654321
        values["token_pk"] = 987654321
        values["delivery_pk"] = 987654321
        values["action_pk"] = values["action_id"] = values["idea_pk"] = 987654321
        values["attachment_id"] = 987654321
    path = route
    for name, value in values.items():
        for converter in ("int", "str", "slug", "path", ""):
            token = f"<{converter}:{name}>" if converter else f"<{name}>"
            if token in path:
                if value is None:
                    raise AssertionError(f"The permission test does not know which object {route} names: teach it.")
                path = path.replace(token, str(value))
    assert "<" not in path, f"The permission test does not know the parameters of {route}: teach it."
    return "/" + path


def _web(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def _api_as(user=None, key=None):
    client = APIClient()
    key = key or Token.objects.get_or_create(user=user)[0].key
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _text(response):
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body.decode(errors="replace")


def _answers(client, path):
    for method in ("get", "post", "patch"):
        response = getattr(client, method)(path, {}, format="json") if isinstance(client, APIClient) else getattr(client, method)(path, {})
        yield method, response


ROLES_AND_FOREIGN = [
    ("frontline", "other location"),
    ("frontline", "other organization"),
    ("manager", "other location"),
    ("manager", "other organization"),
    ("admin", "other organization"),
    ("api client", "other organization"),
]


@pytest.mark.parametrize("role,whose", ROLES_AND_FOREIGN)
def test_no_route_shows_or_changes_an_object_beyond_the_callers_reach(world, organization, role, whose, settings):
    settings.API_RATE_LIMIT_PREFIX = f"perm-{uuid.uuid4().hex}"
    incident, secret = world["foreign"][whose], SECRETS[whose]
    if role == "api client":
        _, key = api_services.create_api_client(organization=organization, name="Our desk")
        web, api = None, _api_as(key=key)
    else:
        user = world["people"][role]
        web, api = _web(user), _api_as(user)

    checked = 0
    for route in _walked_routes():
        has_object = "<" in route
        client = api if route.startswith("api/") else web
        if client is None:
            continue
        path = _fill(route, incident, world)
        same_organization_customer = "customers/" in route and incident.organization_id == organization.pk
        if not has_object or same_organization_customer:
            # Lists and searches: the foreign object is simply not among what they show. A customer of
            # the organization is everyone's there, but not the steps of a recovery elsewhere.
            response = client.get(path, {"q": "Zanzibar", "search": "Zanzibar"})
            assert secret not in _text(response), f"{role} sees {whose}'s data at {path}"
            checked += 1
            continue
        missing = _fill(route, incident, world, nonexistent=True)
        # A customer's signed link names no object of ours; a forged one may answer 400 with a clear page.
        refusals = (400, 403, 404, 405) if "<str:token>" in route else (403, 404, 405)
        for (method, answer), (_, baseline) in zip(_answers(client, path), _answers(client, missing)):
            assert answer.status_code in refusals, f"{role} {method.upper()} {path} on {whose}: {answer.status_code}"
            assert answer.status_code == baseline.status_code, (
                f"{role} {method.upper()} {path}: {answer.status_code} for {whose}'s object but {baseline.status_code} "
                "for one that does not exist, which tells that it exists"
            )
            assert secret not in _text(answer)
            checked += 1
    assert checked > 20

    # Nothing was changed by any of it.
    incident.refresh_from_db()
    assert incident.owner.username in ("hal", "rob")
    assert incident.gestures.get().approval == "pending"
    assert incident.helpers.count() == 0
    incident.owner.refresh_from_db()
    assert incident.owner.is_active and incident.owner.role == "frontline"
    world["rival_client"].refresh_from_db()
    assert world["rival_client"].active and world["webhook"].__class__.objects.get(pk=world["webhook"].pk).active
    rival_token = world["rival_client"].tokens.get()  # neither revoked nor rotated
    assert rival_token.revoked_at is None and rival_token.expires_at is None
    problem = world["problems"][whose].__class__.objects.get(pk=world["problems"][whose].pk)
    assert problem.version == 1 and problem.status == "investigating" and problem.fixed_at is None
    assert problem.actions.get().done_at is None and problem.ideas.get().thanked_at is None
    assert SavedView.objects.filter(pk=world["saved_views"][whose].pk).exists()


def test_the_walk_covers_every_route_with_an_object_in_its_path():
    routes = [route for route in _walked_routes() if "<" in route]
    assert any(route.startswith("api/v1/incidents/") for route in routes)
    assert any(route.startswith("manage/") for route in routes)
    assert any(route.startswith("incidents/") for route in routes)


@pytest.mark.parametrize("role", ["frontline", "manager", "admin"])
def test_the_django_admin_opens_for_nobody_of_an_organization_whatever_they_were_granted(world, role, client):
    """The admin is the operators' tool: staff flags, groups and every model permission given to an
    organization's member open none of its pages, so none can offer another organization's rows."""
    from django.contrib import admin
    from django.contrib.auth.models import Permission
    from django.urls import reverse

    from helpdesk.models import ApiClient
    from incidents.models import Location

    user = world["people"][role]
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.all())
    client.force_login(user)
    rival = world["foreign"]["other organization"].organization
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls += [reverse(f"{name}_changelist"), reverse(f"{name}_add")]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    client.post(reverse("admin:helpdesk_apiclient_add"), {"name": "Sneaky", "organization": rival.pk, "rate_limit_per_minute": 60})
    client.post(reverse("admin:incidents_location_add"), {"name": "Sneaky", "code": "sneaky", "organization": rival.pk,
                                                          "timezone": "UTC", "opens_at": "09:00", "closes_at": "17:00"})
    client.post(reverse("admin:incidents_user_change", args=[user.pk]), {"is_superuser": "on", "role": "admin"})
    assert not ApiClient.objects.filter(name="Sneaky").exists()
    assert not Location.objects.filter(code="sneaky").exists()
    user.refresh_from_db()
    assert not user.is_superuser and user.role == role
    # Nor does its sign-in page let them in: it sends everyone to the app's sign-in.
    user.set_password("pw-for-the-admin-1")
    user.save()
    client.logout()
    answer = client.post(reverse("admin:login"), {"username": user.username, "password": "pw-for-the-admin-1"})
    assert answer.status_code == 302 and answer["Location"].startswith("/login/")
    assert "_auth_user_id" not in client.session


def test_an_operator_reads_every_organization_in_the_admin(world, client):
    from django.contrib.auth import get_user_model

    operator = get_user_model().objects.create_superuser("op", "op@example.com", "op-password-1")
    client.force_login(operator)
    listed = _text(client.get("/admin/incidents/incident/"))
    assert world["foreign"]["other organization"].reference in listed
    assert world["foreign"]["other location"].reference in listed


def test_every_post_without_the_csrf_token_is_refused(world, organization):
    """Signed in by session, no route accepts a POST that does not carry the CSRF token (the check
    comes before any object is looked up, so ids that exist nowhere do)."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(world["people"]["manager"])
    refused = 0
    for route in _walked_routes():
        if route == "api/v1/" or route.startswith(NO_SESSION_POSTS):
            continue  # the API's answer for paths it does not have (a JSON 404); links that need no session
        path = _fill(route, world["foreign"]["other location"], world, nonexistent=True)
        answer = client.post(path, {"note": "no token"})
        assert answer.status_code in (403, 405), f"POST {path} without a CSRF token: {answer.status_code}"
        refused += answer.status_code == 403
    assert refused > 10
