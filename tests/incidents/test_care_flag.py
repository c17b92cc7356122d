"""The care flag expires after the organization's care_flag_days (90 by default), every reader asks the same
question ("is it still open?"), and whoever clears it is kept on the customer's file."""

import datetime

import pytest
from django.utils import timezone
from django.utils.duration import duration_string
from rest_framework.test import APIClient

from helpdesk import services as api_services
from incidents import services
from incidents.models import Customer
from organization_settings import forms as settings_forms
from organization_settings import services as settings_services
from tests import factories

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
SECOND = datetime.timedelta(seconds=1)


def _flagged(customer):
    return Customer.objects.get(pk=customer.pk)


def test_logging_a_failure_flags_the_customer_for_ninety_days(incident, clock_at_start):
    customer = _flagged(incident.customer)
    assert customer.care_flag_expires_at == incident.logged_at + 90 * DAY
    for moved, still_open in ((90 * DAY - SECOND, True), (90 * DAY, False), (90 * DAY + SECOND, False)):
        now = incident.logged_at + moved
        assert customer.care_flag_open_at(now) is still_open
        assert Customer.objects.care_flag_open(now).filter(pk=customer.pk).exists() is still_open


def test_the_property_and_the_query_agree_on_every_kind_of_flag(organization, frontline):
    now = timezone.now()
    rows = [
        factories.CustomerFactory(organization=organization),  # never flagged
        factories.CustomerFactory(organization=organization, care_flag=True, care_flag_expires_at=now + DAY),
        factories.CustomerFactory(organization=organization, care_flag=True, care_flag_expires_at=now - DAY),
        factories.CustomerFactory(organization=organization, care_flag=True, care_flag_expires_at=None),
        factories.CustomerFactory(organization=organization, care_flag=False, care_flag_expires_at=now + DAY),
    ]
    from_query = set(Customer.objects.care_flag_open(now).values_list("pk", flat=True))
    assert from_query == {row.pk for row in rows if row.care_flag_open_at(now)} == {rows[1].pk}


def test_a_shorter_period_applies_at_once_and_a_longer_one_opens_a_lapsed_flag(incident, admin, clock_at_start):
    organization = incident.organization
    clock_at_start.shift(40 * DAY)
    settings_services.update_organization(organization, by=admin, care_flag_days=30)
    assert not _flagged(incident.customer).care_flag_is_open

    settings_services.update_organization(organization, by=admin, care_flag_days=60)
    customer = _flagged(incident.customer)
    assert customer.care_flag_is_open and customer.care_flag_expires_at == incident.logged_at + 60 * DAY


def test_clearing_keeps_who_and_when_and_a_new_failure_starts_a_new_period(incident, frontline, clock_at_start):
    clock_at_start.shift(DAY)
    cleared = services.clear_care_flag(_flagged(incident.customer), by=frontline)
    cleared = _flagged(cleared)
    assert not cleared.care_flag_is_open
    assert (cleared.care_flag_cleared_by, cleared.care_flag_cleared_at) == (frontline, timezone.now())

    clock_at_start.shift(10 * DAY)
    again = factories.log_incident(user=frontline, customer=cleared, now=timezone.now())
    customer = _flagged(again.customer)
    assert customer.care_flag_is_open and customer.care_flag_expires_at == timezone.now() + 90 * DAY
    assert customer.care_flag_cleared_by == frontline  # the last clearing stays as history


def test_clearing_a_lapsed_flag_changes_nothing(incident, frontline, clock_at_start):
    clock_at_start.shift(91 * DAY)
    services.clear_care_flag(_flagged(incident.customer), by=frontline)
    customer = _flagged(incident.customer)
    assert customer.care_flag and customer.care_flag_cleared_at is None and customer.care_flag_expired


def test_search_puts_open_flags_first_and_shows_a_lapsed_one_as_no_flag(client, frontline, organization, location,
                                                                       clock_at_start):
    old = factories.CustomerFactory(organization=organization, name="Marta Old")
    factories.log_incident(user=frontline, customer=old, now=timezone.now())
    clock_at_start.shift(80 * DAY)
    new = factories.CustomerFactory(organization=organization, name="Marta New")
    factories.log_incident(user=frontline, customer=new, now=timezone.now(), summary="Cold soup")
    factories.CustomerFactory(organization=organization, name="Marta Plain")
    client.force_login(frontline)

    clock_at_start.shift(11 * DAY)  # the old flag is 91 days old, the new one 11
    found = client.get("/customers/search.json", {"q": "mart"}).json()["customers"]
    assert [(row["name"], row["care_flag"], row["care_note"]) for row in found] == [
        ("Marta New", True, "Cold soup"), ("Marta Plain", False, ""), ("Marta Old", False, "")]
    for address in ("/customers/", "/search/"):  # the lookup and the header's search: one rule
        page = client.get(address, {"q": "mart"}).content.decode()
        assert page.count("Take special care") == 1, address


def test_the_customer_page_shows_the_banner_while_open_and_who_cleared_it_after(client, frontline, incident,
                                                                                clock_at_start):
    client.force_login(frontline)
    url = f"/customers/{incident.customer.pk}/"
    page = client.get(url).content.decode()
    assert "data-care-banner hidden" not in page and "Served with care: clear the flag" in page

    client.post(f"{url}care-flag/clear/")
    page = client.get(url).content.decode()
    assert "data-care-banner hidden" in page and "Served with care: clear the flag" not in page
    assert f"cleared by {frontline.display_name()}" in page


def test_the_customer_page_says_when_a_flag_lapsed(client, frontline, incident, clock_at_start):
    clock_at_start.shift(90 * DAY)
    client.force_login(frontline)
    page = client.get(f"/customers/{incident.customer.pk}/").content.decode()
    assert "data-care-banner hidden" in page and "The care flag lapsed on" in page


def test_the_api_says_no_flag_once_it_lapsed_and_names_who_cleared_one(incident, frontline, clock_at_start):
    _, token = api_services.create_api_client(organization=incident.organization, name="Helpdesk")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    customer_url = f"/api/v1/customers/{incident.customer.pk}/"
    shown = api.get(customer_url).json()
    assert shown["care_flag"] is True
    assert shown["care_flag_expires_at"] is not None and shown["care_flag_cleared_by"] is None
    assert api.get(f"/api/v1/incidents/{incident.pk}/").json()["customer"]["care_flag"] is True

    clock_at_start.shift(90 * DAY)
    assert api.get(customer_url).json()["care_flag"] is False
    assert api.get(f"/api/v1/incidents/{incident.pk}/").json()["customer"]["care_flag"] is False

    clock_at_start.shift(-DAY)
    cleared = api.delete(f"/api/v1/customers/{incident.customer.pk}/care-flag/").json()
    assert cleared["care_flag"] is False and cleared["care_flag_cleared_at"] is not None
    assert api.get("/api/v1/customers/").json()["results"][0]["care_flag_cleared_by"]


def _settings_form(organization, **changes):
    """Everything the Settings page would send back, with `changes`."""
    data = {}
    for field in settings_forms.OrganizationForm(instance=organization):
        value = field.value()
        if isinstance(value, datetime.timedelta):
            value = duration_string(value)
        if value is False or value is None:
            continue
        data[field.name] = value.strftime("%H:%M") if isinstance(value, datetime.time) else value
    return data | changes


@pytest.mark.parametrize("typed, error", [("0", "A care flag lasts at least 1 day."),
                                          ("731", "A care flag lasts at most 730 days (two years)."),
                                          ("ninety", "Enter a whole number.")])
def test_the_settings_page_refuses_a_period_out_of_range_and_keeps_what_was_typed(client, admin, organization,
                                                                                 typed, error):
    client.force_login(admin)
    answer = client.post("/settings/", _settings_form(organization, care_flag_days=typed, name="Harbour Hotels Ltd"))
    page = answer.content.decode()
    assert answer.status_code == 400 and error in page
    assert 'value="Harbour Hotels Ltd"' in page and f'value="{typed}"' in page
    organization.refresh_from_db()
    assert (organization.care_flag_days, organization.name) == (90, "Harbour Hotels")


def test_the_settings_page_saves_the_period_and_it_applies_at_once(client, admin, incident, clock_at_start):
    organization = incident.organization
    clock_at_start.shift(20 * DAY)
    client.force_login(admin)
    answer = client.post("/settings/", _settings_form(organization, care_flag_days="14"))
    assert answer.status_code == 302
    organization.refresh_from_db()
    assert organization.care_flag_days == 14
    assert not _flagged(incident.customer).care_flag_is_open
