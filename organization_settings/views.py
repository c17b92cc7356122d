"""The Settings pages: parse, call one service, render. Who may do what is decided in `services`;
a NotAllowed it raises becomes 403 here, and objects beyond the person's reach are simply not found."""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.utils import translation
from django.utils.translation import gettext

from helpdesk import tokens as api_tokens
from incidents.services import NotAllowed, attach_calendars, calendar_for
from signing_in.provider import callback_url
from incidents.views import run_service
from recovery import languages

from . import forms, services


def _organization_of(request):
    if not services.may_open_settings(request.user):
        raise PermissionDenied(gettext("Settings are for managers and admins."))
    return request.user.organization


def _admin_organization(request):
    organization = _organization_of(request)
    if not services.is_admin_of(request.user, organization):
        raise PermissionDenied(gettext("Only an organization admin can do this."))
    return organization


def _page(request, template, context, form=None):
    context = {"is_admin": services.is_admin_of(request.user, request.user.organization), **context}
    status = 400 if form is not None and form.is_bound else 200
    return render(request, f"organization_settings/{template}", context, status=status)


@login_required
def organization(request):
    """The organization's clock windows, budget and currency: admins change them, managers read them."""
    organization = _organization_of(request)
    form = forms.OrganizationForm(request.POST or None, instance=organization)
    if request.method == "POST":
        _admin_organization(request)
        changed = {field: form.cleaned_data[field] for field in form.changed_data} if form.is_valid() else None
        if changed is not None and run_service(form, lambda: services.update_organization(
                organization, by=request.user, **changed)):
            messages.success(request, gettext("The organization's settings are saved."))
            return redirect("settings:organization")
        organization.refresh_from_db()
    return _page(request, "organization.html", {"form": form, "organization": organization}, form)


@login_required
def locations(request):
    organization = _organization_of(request)
    form = forms.LocationForm(request.POST or None)
    if request.method == "POST":
        _admin_organization(request)
        if form.is_valid() and run_service(form, lambda: services.save_location(
                organization, by=request.user, **form.cleaned_data)):
            messages.success(request, gettext("%(name)s is added.") % {"name": form.cleaned_data['name']})
            return redirect("settings:locations")
    listed = list(services.locations_in_reach(request.user, organization).order_by("name"))
    attach_calendars(listed)
    for place in listed:
        place.hours = forms.week_summary(calendar_for(place))
    return _page(request, "locations.html", {"form": form, "locations": listed}, form)


@login_required
def location(request, pk):
    organization = _admin_organization(request)
    place = get_object_or_404(organization.locations, pk=pk)
    form = forms.LocationCalendarForm(request.POST or None, instance=place)
    if request.method == "POST" and form.is_valid() and run_service(form, lambda: services.save_location(
            organization, by=request.user, location=place, **form.service_values())):
        messages.success(request, gettext("%(name)s is saved.") % {"name": place.name})
        return redirect("settings:locations")
    place.refresh_from_db()
    return _page(request, "location.html", {"form": form, "location": place}, form)


@login_required
def staff(request):
    """The staff in the person's reach, and the invitation form."""
    organization = _organization_of(request)
    form = forms.InviteForm(request.POST or None, by=request.user, organization=organization)
    if request.method == "POST" and form.is_valid():
        member = run_service(form, lambda: services.invite_staff(organization, by=request.user, **form.cleaned_data))
        if member:
            messages.success(request, gettext("Invitation sent to %(email)s.") % {"email": member.email})
            return redirect("settings:staff")
    people = (services.staff_in_reach(request.user, organization)
              .prefetch_related("locations").order_by("-is_active", "first_name", "username"))
    return _page(request, "staff.html", {"form": form, "people": people}, form)


@login_required
def member(request, pk):
    organization = _organization_of(request)
    person = get_object_or_404(services.staff_in_reach(request.user, organization), pk=pk)
    initial = {"first_name": person.first_name, "last_name": person.last_name, "role": person.role,
               "locations": list(person.locations.all()), "discretion_budget": person.discretion_budget,
               "language": person.language}
    form = forms.StaffForm(request.POST or None, initial=initial, by=request.user, organization=organization)
    if request.method == "POST" and form.is_valid() and run_service(form, lambda: services.update_staff(
            person, by=request.user, **form.cleaned_data)):
        messages.success(request, gettext("%(name)s is saved.") % {"name": person.display_name()})
        return redirect("settings:staff")
    return _page(request, "member.html", {"form": form, "member": person}, form)


@login_required
def my_language(request):
    """Anyone signed in chooses the language they work in (the pages, and what Recovery writes to them)."""
    form = forms.LanguageForm(request.POST or None, initial={"language": request.user.language})
    if request.method == "POST" and form.is_valid() and run_service(form, lambda: services.set_own_language(
            request.user, language=form.cleaned_data["language"])):
        # The confirmation already in the language chosen (or, for "", the browser's).
        translation.activate(languages.supported(request.user.language) or translation.get_language_from_request(request))
        messages.success(request, gettext("Your language is saved."))
        return redirect("settings:language")
    return render(request, "organization_settings/language.html", {"form": form},
                  status=400 if form.is_bound else 200)


@login_required
@require_POST
def member_active(request, pk):
    organization = _organization_of(request)
    person = get_object_or_404(services.staff_in_reach(request.user, organization), pk=pk)
    active = request.POST.get("active") == "1"
    _act(request, lambda: services.set_staff_active(person, by=request.user, active=active),
         f"{person.display_name()} is {'active again' if active else 'deactivated: they can no longer sign in'}.")
    return redirect("settings:member", pk=person.pk)


@login_required
@require_POST
def member_invitation(request, pk):
    organization = _organization_of(request)
    person = get_object_or_404(services.staff_in_reach(request.user, organization), pk=pk)
    _act(request, lambda: services.resend_invitation(person, by=request.user), gettext("Invitation sent again to %(email)s.") % {"email": person.email})
    return redirect("settings:member", pk=person.pk)


@login_required
def api_clients(request):
    """API clients: a new one's token is shown on this answer only."""
    organization = _admin_organization(request)
    form = forms.ApiClientForm(request.POST or None)
    token = None
    if request.method == "POST" and form.is_valid():
        created = run_service(form, lambda: services.add_api_client(organization, by=request.user, **form.cleaned_data))
        if created:
            (client, token), form = created, forms.ApiClientForm()
    listed = services.api_clients_of(request.user, organization).prefetch_related("webhooks")
    context = {"form": form, "clients": listed, "token": token, "new_client": token and client}
    return _page(request, "api_clients.html", context, form)


@login_required
def api_client(request, pk):
    organization = _admin_organization(request)
    client = get_object_or_404(services.api_clients_of(request.user, organization), pk=pk)
    form = forms.WebhookForm(request.POST or None)
    added = request.method == "POST" and form.is_valid() and run_service(form, lambda: services.add_webhook(
        client, by=request.user, **form.cleaned_data))
    if added:
        return _client_page(request, client, new_secret=added)  # the secret, this once
    return _client_page(request, client, form=form)


@login_required
@require_POST
def api_token_issue(request, pk):
    """A new token for the client, shown on this answer only; its other tokens keep working."""
    organization = _admin_organization(request)
    client = get_object_or_404(services.api_clients_of(request.user, organization), pk=pk)
    token_form = forms.ApiTokenForm(request.POST)
    issued = token_form.is_valid() and run_service(token_form, lambda: services.add_api_token(
        client, by=request.user, **token_form.cleaned_data))
    if issued:
        return _client_page(request, client, new_token=issued[1])
    return _client_page(request, client, token_form=token_form)


@login_required
@require_POST
def api_token_rotate(request, pk, token_pk):
    """The token's successor, shown on this answer only; the old one works for the hours chosen."""
    organization = _admin_organization(request)
    client = get_object_or_404(services.api_clients_of(request.user, organization), pk=pk)
    old = get_object_or_404(client.tokens, pk=token_pk)
    rotate_form = forms.RotateTokenForm(request.POST)
    rotated = rotate_form.is_valid() and run_service(rotate_form, lambda: services.rotate_api_token(
        old, by=request.user, keep_old_for=datetime.timedelta(hours=rotate_form.cleaned_data["keep_old_for_hours"])))
    if rotated:
        return _client_page(request, client, new_token=rotated[1], rotated=old)
    return _client_page(request, client, rotate_form=rotate_form)


@login_required
@require_POST
def api_token_revoke(request, pk, token_pk):
    organization = _admin_organization(request)
    client = get_object_or_404(services.api_clients_of(request.user, organization), pk=pk)
    token = get_object_or_404(client.tokens, pk=token_pk)
    _act(request, lambda: services.revoke_api_token(token, by=request.user),
         f"Token {token.prefix}… is revoked: it no longer works.")
    return redirect("settings:api_client", pk=client.pk)


def _client_page(request, client, *, form=None, token_form=None, rotate_form=None, new_token=None, rotated=None,
                 new_secret=None):
    """An API client's page: its tokens (a new one shown this once), their forms, and its webhooks (a
    new signing secret shown this once)."""
    now = timezone.now()
    listed = [(token, api_tokens.state(token, now)) for token in client.tokens.all()]
    bound = next((each for each in (form, token_form, rotate_form) if each is not None and each.is_bound), None)
    context = {
        "client": client, "webhooks": client.webhooks.all(), "tokens": listed, "new_token": new_token, "rotated": rotated,
        "new_secret": new_secret,
        "form": form or forms.WebhookForm(), "token_form": token_form or forms.ApiTokenForm(),
        "rotate_form": rotate_form or forms.RotateTokenForm(),
    }
    return _page(request, "api_client.html", context, bound)


@login_required
@require_POST
def api_client_active(request, pk):
    organization = _admin_organization(request)
    client = get_object_or_404(services.api_clients_of(request.user, organization), pk=pk)
    active = request.POST.get("active") == "1"
    _act(request, lambda: services.set_api_client_active(client, by=request.user, active=active),
         f"{client.name} is {'active again' if active else 'deactivated: its token no longer works'}.")
    return redirect("settings:api_client", pk=client.pk)


@login_required
@require_POST
def webhook_active(request, pk, webhook_pk):
    organization = _admin_organization(request)
    client = get_object_or_404(services.api_clients_of(request.user, organization), pk=pk)
    endpoint = get_object_or_404(client.webhooks, pk=webhook_pk)
    active = request.POST.get("active") == "1"
    _act(request, lambda: services.set_webhook_active(endpoint, by=request.user, active=active),
         f"Webhook {'resumed' if active else 'paused'}.")
    return redirect("settings:api_client", pk=client.pk)


@login_required
@require_POST
def webhook_secret_rotate(request, pk, webhook_pk):
    """A new signing secret for the webhook, shown on this answer only; the old one signs beside it for a day."""
    organization = _admin_organization(request)
    client = get_object_or_404(services.api_clients_of(request.user, organization), pk=pk)
    endpoint = get_object_or_404(client.webhooks, pk=webhook_pk)
    try:
        rotated = services.rotate_webhook_secret(endpoint, by=request.user)
    except NotAllowed as error:
        raise PermissionDenied(error.message) from error
    return _client_page(request, client, new_secret=rotated)


@login_required
def single_sign_on(request):
    """The organization's identity provider (admins): where to register us, and its client details."""
    organization = _admin_organization(request)
    sign_on = services.single_sign_on_of(organization)
    initial = ({"issuer": sign_on.app.settings.get("server_url", ""), "client_id": sign_on.app.client_id,
                "email_domain": sign_on.email_domain, "active": sign_on.active} if sign_on else {"active": True})
    form = forms.SingleSignOnForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid() and run_service(form, lambda: services.save_single_sign_on(
            organization, by=request.user, **form.cleaned_data)):
        messages.success(request, gettext("Single sign-on is saved."))
        return redirect("settings:single_sign_on")
    callback = callback_url(request, sign_on.app.provider_id if sign_on else services.single_sign_on_id(organization))
    return _page(request, "single_sign_on.html", {"form": form, "sign_on": sign_on, "callback_url": callback}, form)


def _act(request, call, success):
    """A one-button action: its refusal becomes a message, the way a form shows an error."""
    try:
        call()
    except NotAllowed as error:
        raise PermissionDenied(error.message) from error
    except services.RecoveryError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success)
