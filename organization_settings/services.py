"""Setting up an organization: its clocks and budget, locations, staff, API clients and webhooks.

Every door that changes these (the Settings pages, the operators' admin, commands) calls these
functions, and each one checks the actor with the rules below, written once:

- Settings are for managers and admins of the organization; the organization's own settings, its
  locations and its API clients (a client reads every incident) are for admins.
- Nobody grants a role above their own, or acts on someone of a higher role.
- A manager acts on the staff of their own locations only, and gives them only those locations.
- Nobody changes their own role or budget, or locks themselves out.

`by=None` is the operator at the server (a management command); operators are superusers in the admin.
"""

import datetime

import requests
from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone as django_timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext

from incidents import selectors
from helpdesk import services as api_services
from helpdesk import webhooks
from helpdesk import tokens as api_tokens
from helpdesk.models import ApiClient, ApiToken, WebhookEndpoint
from incidents.models import CalendarException, Location, Organization, User, WeeklySpan
from incidents import services as incident_services
from incidents import calendar
from incidents.services import Conflict, NotAllowed, RecoveryError, validate
from signing_in.models import SingleSignOn
from signing_in.provider import OrganizationSignOn

RANK = {User.Role.FRONTLINE: 0, User.Role.MANAGER: 1, User.Role.ADMIN: 2}
ORGANIZATION_FIELDS = ["name", "currency", "follow_up_window", "heads_up_before", "escalate_after",
                       "progress_report_every", "progress_reports_send_at", "check_back_after", "wrap_up_after",
                       "satisfaction_check_after", "problem_watch_period", "default_discretion_budget",
                       "two_factor_required", "quiet_hours_start", "quiet_hours_end", "care_flag_days", "language"]


# --- Who may do what ------------------------------------------------------------------------------


def _is_operator(user):
    # None: a command run by an operator at the server.
    return user is None or user.is_operator


def rank(user):
    return 3 if _is_operator(user) else RANK.get(user.role, 0)


def may_open_settings(user):
    return user.is_authenticated and user.is_active and user.organization_id is not None and user.is_manager


def is_admin_of(user, organization):
    return _is_operator(user) or (user.role == User.Role.ADMIN and user.organization_id == organization.id)


def _require_settings(by, organization):
    if not _is_operator(by) and not (may_open_settings(by) and by.organization_id == organization.id):
        raise NotAllowed(gettext("Settings are for the organization's managers and admins."))


def _require_admin(by, organization, what):
    if not is_admin_of(by, organization):
        raise NotAllowed(gettext("Only an organization admin can %(what)s.") % {"what": what})


def assignable_roles(by):
    """The roles `by` may give: their own and those below it."""
    return [role for role in User.Role if RANK[role] <= rank(by)]


def staff_in_reach(by, organization):
    """The people `by` may change: staff of the organization (not its API clients' accounts) of a role
    no higher than theirs; for a manager, only those who work at one of the manager's locations."""
    people = User.objects.filter(organization=organization, api_client__isnull=True)
    if _is_operator(by) or by.role == User.Role.ADMIN:
        return people
    return people.filter(role__in=assignable_roles(by), locations__in=selectors.visible_locations(by)).distinct()


def locations_in_reach(by, organization):
    if _is_operator(by):
        return Location.objects.filter(organization=organization)
    return selectors.visible_locations(by).filter(organization=organization)


def _require_in_reach(by, member, organization):
    if member.organization_id != organization.id or not staff_in_reach(by, organization).filter(pk=member.pk).exists():
        raise NotAllowed(gettext("You can only change staff of your own locations with a role no higher than yours."))


def _check_role_and_locations(by, organization, role, locations):
    if role not in User.Role.values:
        raise RecoveryError(gettext("Choose a role."), field_errors={"role": [gettext("Unknown role.")]})
    if role not in assignable_roles(by):
        raise NotAllowed(gettext("Nobody can give a role above their own."), field_errors={"role": [gettext("Above your own role.")]})
    reachable = set(locations_in_reach(by, organization).values_list("pk", flat=True))
    if any(location.pk not in reachable for location in locations):
        raise NotAllowed(gettext("You can only give locations you manage."), field_errors={"locations": [gettext("Not one of yours.")]})
    if role != User.Role.ADMIN and not locations:  # they would see nothing and could log nothing
        raise RecoveryError(gettext("Choose at least one location."), field_errors={"locations": [gettext("Choose at least one.")]})


# --- The organization ------------------------------------------------------------------------------


@transaction.atomic
def update_organization(organization, *, by, **values):
    """The organization's name, currency, clock windows and discretion budget. Admins only. A changed
    window applies to clocks started from now on: running deadlines were fixed when they started."""
    _require_admin(by, organization, "change the organization's settings")
    unknown = set(values) - set(ORGANIZATION_FIELDS)
    if unknown:
        raise RecoveryError(gettext("Unknown settings: %(join)s.") % {"join": ', '.join(sorted(unknown))})
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    for field, value in values.items():
        setattr(organization, field, value)
    organization.currency = (organization.currency or "").upper()
    validate(organization)
    organization.save(update_fields=list(values))
    if "care_flag_days" in values:
        # Unlike the clocks, a care flag's period applies at once: "is the flag still open?" is asked
        # each time someone looks the customer up.
        incident_services.care_flag_period_changed(organization)
    return organization


# --- Locations -------------------------------------------------------------------------------------


# A location's week when nobody has said otherwise: 09:00–18:00 every day.
DEFAULT_WEEK = tuple((calendar.Span(datetime.time(9), datetime.time(18)),) for _ in calendar.WEEKDAYS)
# Dated exceptions are for the coming year: from the location's today to a year ahead.
EXCEPTIONS_AHEAD = datetime.timedelta(days=366)


@transaction.atomic
def save_location(organization, *, by, location=None, name, code, region="", timezone="UTC", holiday_country="",
                  holiday_subdivision="", week=None, exceptions=None, now=None):
    """Add or change a location and its business calendar. Admins only.

    `week`: seven lists of `incidents.calendar.Span`, Monday first (an empty list: closed that day); None
    keeps the week a location has (a new one opens 09:00–18:00 every day). `exceptions`: [(date, spans)],
    the dated changes from today on (no spans: closed that day; no date: an empty row, ignored), replacing
    those saved; None keeps them.
    Everything is checked before anything is written, so a refused calendar leaves the saved one whole.
    Field errors name the page's fields: `hours_<weekday>`, `exception_<n>_date`, `exception_<n>_hours`."""
    _require_admin(by, organization, "add or change locations")
    if location is not None and location.organization_id != organization.id:
        raise NotAllowed(gettext("That location belongs to another organization."))
    clash = Location.objects.filter(organization=organization, code=code)
    if location is not None:
        clash = clash.exclude(pk=location.pk)
    if clash.exists():
        raise Conflict(gettext("Another location already has that code."), field_errors={"code": [gettext("Already used.")]})
    record = location or Location(organization=organization)
    record.name, record.code, record.region, record.timezone = name, code, region, timezone
    record.holiday_country, record.holiday_subdivision = holiday_country, holiday_subdivision
    validate(record, exclude=["organization"])
    if week is None and location is None:
        week = DEFAULT_WEEK
    today = (now or django_timezone.now()).astimezone(record.zone).date()
    field_errors = {}
    if week is not None:
        field_errors.update(_week_errors(week))
    if exceptions is not None:
        field_errors.update(_exception_errors(exceptions, today))
    if field_errors:
        raise RecoveryError(gettext("Please check the opening hours marked below."), field_errors=field_errors)
    record.save()
    if week is not None:
        WeeklySpan.objects.filter(location=record).delete()
        WeeklySpan.objects.bulk_create(WeeklySpan(location=record, weekday=weekday, opens=span.opens, closes=span.closes)
                                       for weekday, spans in enumerate(week) for span in spans)
    if exceptions is not None:
        CalendarException.objects.filter(location=record, date__gte=today).delete()
        CalendarException.objects.bulk_create(
            CalendarException(location=record, date=day, opens=span.opens if span else None,
                              closes=span.closes if span else None)
            for day, spans in exceptions if day is not None for span in (spans or [None]))
    incident_services.forget_calendar(record)
    return record


def _spans_errors(spans):
    """What is wrong with one day's spans, in words, or None."""
    if any(span.round_the_clock and span.opens != datetime.time(0) for span in spans):
        return gettext("A span cannot end when it starts: for round the clock write 00:00–24:00.")
    clashes = calendar.overlaps(spans)
    if clashes:
        first, second = clashes[0]
        return gettext("%(first)s and %(second)s overlap: make them one span, or separate them.") % {
            "first": first, "second": second}
    return None


def _week_errors(week):
    errors = {}
    for weekday, spans in enumerate(week):
        problem = _spans_errors(spans)
        spill = calendar.spills_into(week[weekday - 1], spans)  # Monday's previous day is Sunday
        if problem is None and spill:
            problem = gettext("%(span)s starts before the previous day's hours past midnight end.") % {"span": spill[0]}
        if problem:
            errors[f"hours_{weekday}"] = [problem]
    if not errors and not any(week):
        errors["hours_0"] = [gettext("The week has no opening hours: open at least one day. Reminders for people "
                                     "wait for an opening, so a location that never opens would never have any.")]
    return errors


def _exception_errors(exceptions, today):
    errors, seen = {}, set()
    for number, (day, spans) in enumerate(exceptions):
        if day is None:
            continue  # an empty row of the page
        if not today <= day <= today + EXCEPTIONS_AHEAD:
            errors[f"exception_{number}_date"] = [gettext(
                "Choose a date in the calendar's year: from %(today)s to %(last)s.") % {
                "today": today.isoformat(), "last": (today + EXCEPTIONS_AHEAD).isoformat()}]
        elif day in seen:
            errors[f"exception_{number}_date"] = [gettext("This date already has an exception above: give all its "
                                                          "hours on one line.")]
        seen.add(day)
        problem = _spans_errors(spans)
        if problem:
            errors[f"exception_{number}_hours"] = [problem]
    return errors


# --- Staff -----------------------------------------------------------------------------------------


@transaction.atomic
def invite_staff(organization, *, by, email, first_name, last_name="", role, locations=(), discretion_budget=None,
                 language=""):
    """A new member of staff, signed in by the email address, who chooses a password from the
    invitation link sent once this commits."""
    _require_settings(by, organization)
    email = (email or "").strip().lower()
    locations = list(locations)
    _check_role_and_locations(by, organization, role, locations)
    if User.objects.filter(Q(username__iexact=email) | Q(email__iexact=email)).exists():
        raise Conflict(gettext("Someone with that email address already has an account."), field_errors={"email": [gettext("Already has an account.")]})
    member = User(username=email, email=email, first_name=first_name, last_name=last_name, organization=organization,
                  role=role, discretion_budget=discretion_budget, language=language or "")
    member.set_unusable_password()
    validate(member, exclude=["password"])
    member.save()
    member.locations.set(locations)
    send_invitation_on_commit(member)
    return member


@transaction.atomic
def update_staff(member, *, by, role, locations, first_name, last_name="", discretion_budget=None, language=None):
    organization = member.organization
    _require_settings(by, organization)
    _require_in_reach(by, member, organization)
    locations = list(locations)
    if by is not None and member.pk == by.pk and role != member.role:
        raise NotAllowed(gettext("Nobody changes their own role; ask another admin."), field_errors={"role": [gettext("Your own role.")]})
    if by is not None and member.pk == by.pk and discretion_budget != member.discretion_budget:
        raise NotAllowed(gettext("Nobody sets their own discretion budget."), field_errors={"discretion_budget": [gettext("Your own budget.")]})
    _check_role_and_locations(by, organization, role, locations)
    if not _is_operator(by) and by.role != User.Role.ADMIN:
        # A manager's change keeps the locations they do not manage, which they cannot see.
        locations += list(member.locations.exclude(pk__in=locations_in_reach(by, organization)))
    member.role, member.first_name, member.last_name = role, first_name, last_name
    member.discretion_budget = discretion_budget
    if language is not None:  # None: not asked (a door without the field); "": their browser's
        member.language = language
    validate(member, exclude=["password"])
    member.save(update_fields=["role", "first_name", "last_name", "discretion_budget", "language"])
    member.locations.set(locations)
    return member


def set_own_language(person, *, language):
    """The language a person works in, chosen by themselves (anyone signed in): "" follows their browser.
    A code the app does not have is refused, never stored."""
    if language and language not in dict(settings.LANGUAGES):
        raise RecoveryError(gettext("Choose a language from the list."), field_errors={"language": [gettext("Not one of the app's languages.")]})
    person.language = language or ""
    person.save(update_fields=["language"])
    return person


@transaction.atomic
def set_staff_active(member, *, by, active):
    """Deactivate (they can no longer sign in; their recoveries and history stay) or reactivate."""
    organization = member.organization
    _require_settings(by, organization)
    _require_in_reach(by, member, organization)
    if by is not None and member.pk == by.pk:
        raise NotAllowed(gettext("You cannot deactivate yourself."))
    member.is_active = active
    member.save(update_fields=["is_active"])
    return member


def resend_invitation(member, *, by):
    _require_settings(by, member.organization)
    _require_in_reach(by, member, member.organization)
    if member.has_usable_password() or not member.is_active:
        raise Conflict(gettext("They have already chosen a password.") if member.is_active else gettext("They are deactivated."))
    send_invitation_on_commit(member)


def invitation_link(member):
    """The page where an invited person chooses a password: Django's password-reset confirmation, whose
    token stops working once a password is set (and after PASSWORD_RESET_TIMEOUT)."""
    path = reverse("password_reset_confirm", kwargs={
        "uidb64": urlsafe_base64_encode(force_bytes(member.pk)), "token": default_token_generator.make_token(member),
    })
    return settings.SITE_URL.rstrip("/") + path


def send_invitation_on_commit(member):
    from . import tasks

    transaction.on_commit(lambda: tasks.send_invitation.delay(member.pk))


# --- API clients and webhooks --------------------------------------------------------------------------


def add_api_client(organization, *, by, name, rate_limit_per_minute=None, scope=ApiToken.Scope.WRITE, expires_at=None):
    """A new integration and its first token; returns (client, token). Admins only: a client reads every
    incident."""
    _require_admin(by, organization, "add API clients")
    name = (name or "").strip()
    if ApiClient.objects.filter(organization=organization, name__iexact=name).exists():
        raise Conflict(gettext("An API client of that name already exists."), field_errors={"name": [gettext("Already used.")]})
    return api_services.create_api_client(organization=organization, name=name, rate_limit_per_minute=rate_limit_per_minute,
                                          scope=scope, expires_at=expires_at)


def api_client_named(organization, *, by, name):
    """The organization's API client of that name (case aside), or None."""
    _require_admin(by, organization, "see API clients")
    return ApiClient.objects.filter(organization=organization, name__iexact=(name or "").strip()).first()


def add_api_token(client, *, by, scope=ApiToken.Scope.WRITE, expires_at=None):
    """One more token for a client (its others keep working); returns (ApiToken, token): show it once."""
    _require_admin(by, client.organization, "issue API tokens")
    return api_tokens.issue(client, scope=scope, expires_at=expires_at)


def rotate_api_token(token, *, by, keep_old_for=api_tokens.DEFAULT_OVERLAP):
    """A successor for the token, working at once; the old one stops after `keep_old_for`. Returns
    (new ApiToken, new token)."""
    _require_admin(by, token.client.organization, "rotate API tokens")
    return api_tokens.rotate(token, keep_old_for=keep_old_for)


def revoke_api_token(token, *, by):
    _require_admin(by, token.client.organization, "revoke API tokens")
    return api_tokens.revoke(token)


def api_clients_of(by, organization):
    _require_admin(by, organization, "see API clients")
    return ApiClient.objects.filter(organization=organization)


@transaction.atomic
def set_api_client_active(client, *, by, active):
    """A deactivated client's tokens stop working at once; its history stays."""
    _require_admin(by, client.organization, "change API clients")
    client.active = active
    client.save(update_fields=["active"])
    client.user.is_active = active
    client.user.save(update_fields=["is_active"])
    return client


def add_webhook(client, *, by, url, events=()):
    _require_admin(by, client.organization, "add webhooks")
    return api_services.register_webhook(client=client, url=url, events=events)


def rotate_webhook_secret(endpoint, *, by):
    """A new signing secret, shown once; the old one goes on signing beside it for a day, so the
    receiver can switch at its own moment (helpdesk.webhooks.rotate_secret)."""
    _require_admin(by, endpoint.client.organization, "change webhooks")
    return webhooks.rotate_secret(endpoint)


def set_webhook_active(endpoint, *, by, active):
    _require_admin(by, endpoint.client.organization, "change webhooks")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=active)
    endpoint.active = active
    return endpoint


# --- Single sign-on -------------------------------------------------------------------------------


def single_sign_on_id(organization):
    """The name of the organization's sign-on in its callback address (the provider keeps it registered)."""
    return organization.slug


def single_sign_on_of(organization):
    return SingleSignOn.objects.select_related("app").filter(organization=organization).first()


def _read_provider_configuration(issuer):
    """The provider's discovery document, so a mistyped address is found when it is saved, not at the
    next sign-in."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        answer = requests.get(url, timeout=5, allow_redirects=False)
        answer.raise_for_status()
        configuration = answer.json()
    except (requests.RequestException, ValueError) as error:
        raise RecoveryError(gettext("Could not read the identity provider's configuration at %(url)s. Check the issuer address.") % {"url": url}, field_errors={"issuer": [gettext("No OpenID Connect configuration found here.")]}) from error
    if not isinstance(configuration, dict) or configuration.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
        raise RecoveryError(gettext("The identity provider names a different issuer than the address given."),
                            field_errors={"issuer": [gettext("The provider calls itself something else: use its issuer.")]})


def save_single_sign_on(organization, *, by, issuer, client_id, client_secret="", email_domain, active=True):
    """Set up or change the organization's identity provider (admins). A blank secret keeps the saved one."""
    _require_admin(by, organization, "set up single sign-on")
    issuer = issuer.strip().rstrip("/")
    if not (issuer.startswith("https://") or settings.SINGLE_SIGN_ON_ALLOW_HTTP):
        raise RecoveryError(gettext("The identity provider must be reached over HTTPS."),
                            field_errors={"issuer": [gettext("Use an https:// address.")]})
    email_domain = email_domain.strip().lower().lstrip("@")
    existing = single_sign_on_of(organization)
    if not client_secret and existing is None:
        raise RecoveryError(gettext("The client secret is needed."), field_errors={"client_secret": [gettext("Required.")]})
    if SingleSignOn.objects.filter(email_domain=email_domain).exclude(organization=organization).exists():
        raise RecoveryError(gettext("%(email_domain)s already signs in through another organization's identity provider.") % {"email_domain": email_domain},
                            field_errors={"email_domain": [gettext("Already used by another organization.")]})
    _read_provider_configuration(issuer)
    with transaction.atomic():
        app = existing.app if existing else SocialApp(provider=OrganizationSignOn.id, provider_id=single_sign_on_id(organization))
        app.name = organization.name
        app.client_id = client_id.strip()
        if client_secret:
            app.secret = client_secret.strip()
        app.settings = {"server_url": issuer}
        app.save()
        sign_on = existing or SingleSignOn(organization=organization, app=app)
        sign_on.email_domain, sign_on.active = email_domain, active
        validate(sign_on, exclude=["organization", "app"])
        sign_on.save()
    return sign_on
