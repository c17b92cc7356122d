"""The app speaks each person's language: their profile's, else their browser's, else English; never an error."""

import pytest
from django.urls import reverse
from django.utils import translation

from incidents import services
from recovery import languages


def page(response):
    return response.content.decode()


@pytest.fixture
def fran_client(client, frontline):
    client.force_login(frontline)
    return client


def test_a_person_who_chose_spanish_gets_the_pages_in_spanish_whatever_the_browser(fran_client, frontline):
    frontline.language = "es"
    frontline.save(update_fields=["language"])

    response = fran_client.get("/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")

    body = page(response)
    assert response["Content-Language"] == "es" and '<html lang="es">' in body
    assert "Buscar un cliente o una incidencia" in body and "Find a customer or an incident" not in body


def test_without_a_language_of_their_own_a_person_gets_the_browsers(fran_client):
    body = page(fran_client.get("/", HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9,en;q=0.5"))
    assert '<html lang="es">' in body and "Buscar un cliente o una incidencia" in body


def test_a_browser_language_the_app_does_not_have_falls_back_to_english(fran_client):
    response = fran_client.get("/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,xx-bogus")
    assert response.status_code == 200 and response["Content-Language"] == "en"
    assert "Find a customer or an incident" in page(response)


def test_a_stored_language_the_app_no_longer_has_falls_back_without_an_error(fran_client, frontline):
    type(frontline).objects.filter(pk=frontline.pk).update(language="de")  # written before "de" was dropped, say

    response = fran_client.get("/", HTTP_ACCEPT_LANGUAGE="")

    assert response.status_code == 200 and '<html lang="en">' in page(response)


def test_signed_out_pages_follow_the_browser(client):
    body = page(client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="es"))
    assert '<html lang="es">' in body


def test_a_person_chooses_their_language_and_the_confirmation_is_already_in_it(fran_client, frontline):
    response = fran_client.post(reverse("settings:language"), {"language": "es"}, follow=True)

    frontline.refresh_from_db()
    assert frontline.language == "es"
    assert "Se ha guardado su idioma." in page(response)


def test_choosing_no_language_follows_the_browser_again(fran_client, frontline):
    frontline.language = "es"
    frontline.save(update_fields=["language"])
    fran_client.post(reverse("settings:language"), {"language": ""})
    frontline.refresh_from_db()
    assert frontline.language == ""
    assert "Find a customer or an incident" in page(fran_client.get("/", HTTP_ACCEPT_LANGUAGE="en"))


def test_a_language_the_app_does_not_have_is_refused_and_nothing_is_saved(fran_client, frontline):
    response = fran_client.post(reverse("settings:language"), {"language": "de"})
    assert response.status_code == 400 and "de is not one of the available choices" in page(response)
    frontline.refresh_from_db()
    assert frontline.language == ""


def test_a_manager_sets_a_members_language_on_the_staff_page(client, manager, colleague):
    client.force_login(manager)
    url = reverse("settings:member", args=[colleague.pk])
    response = client.post(url, {"first_name": colleague.first_name, "last_name": colleague.last_name,
                                 "role": colleague.role, "locations": [loc.pk for loc in colleague.locations.all()],
                                 "language": "es"})
    assert response.status_code == 302
    colleague.refresh_from_db()
    assert colleague.language == "es"


def test_the_api_says_each_members_language(client, manager):
    manager.language = "es"
    manager.save(update_fields=["language"])
    client.force_login(manager)
    staff = client.get("/api/v1/staff/").json()["results"]
    assert {member["username"]: member["language"] for member in staff}["mona"] == "es"


@pytest.mark.parametrize("typed, tag, app_language", [
    ("es", "es", "es"), ("ES", "es", "es"), ("es_mx", "es-MX", "es"), (" en-gb ", "en-GB", "en"),
    ("de", "de", None), ("", "", None), ("not a language", None, None), ("e", None, None),
])
def test_language_codes_are_read_as_people_type_them(typed, tag, app_language):
    assert languages.normalize_tag(typed) == tag
    assert languages.supported(typed) == app_language


def test_a_customers_language_code_is_stored_in_its_usual_spelling(customer, manager):
    services.set_contact_preferences(customer, by=manager, language=" ES_mx ")
    customer.refresh_from_db()
    assert customer.language == "es-MX"


@pytest.mark.parametrize("customer_language, organization_language, written_in", [
    ("es", "en", "es"),  # theirs, when the app has it
    ("es-AR", "en", "es"),
    ("de", "es", "en"),  # a language the app does not have: English
    ("", "es", "es"),  # not known: the organization's
    ("", "en", "en"),
])
def test_a_customer_is_written_to_in_their_language(customer, organization, customer_language, organization_language,
                                                    written_in):
    customer.language = customer_language
    organization.language = organization_language
    customer.organization = organization
    assert languages.of_customer(customer) == written_in


def test_the_unknown_language_of_a_customer_never_breaks_a_page(fran_client, customer):
    customer.language = "zz-Qq"
    customer.save(update_fields=["language"])
    assert fran_client.get(f"/customers/{customer.pk}/").status_code == 200
    with translation.override("en"):
        assert languages.of_customer(customer) == "en"
