"""The apology coach checks an apology against the phrases of the language it is spoken in."""

import pytest
from django.utils import translation

from incidents import coach, services
from incidents.models import CoachPhrase
from tests import factories

FAKE_SPANISH_APOLOGY = "Lamentamos cualquier inconveniente, pero es nuestra politica. Si lo que dice es correcto, lo miramos."


def test_every_new_organization_gets_an_english_and_a_spanish_list(organization):
    assert organization.coach_phrases.filter(language="en", phrase="it's our policy").exists()
    assert organization.coach_phrases.filter(language="es", phrase="es nuestra política", kind="policy").exists()


def test_the_coach_flags_a_spanish_fake_apology_to_a_spanish_customer(incident, frontline, customer):
    customer.language = "es"
    customer.save(update_fields=["language"])
    with translation.override("en"):  # the person writing works in English; the customer is spoken to in Spanish
        apology = services.record_apology(incident, by=frontline, channel="in_person", text=FAKE_SPANISH_APOLOGY)
    assert [(flag["phrase"], flag["kind"]) for flag in apology.coach_flags] == [
        ("lamentamos cualquier inconveniente", "dismissive"),
        ("es nuestra política", "policy"),  # typed without the accent, still found
        ("si lo que dice es correcto", "conditional"),
    ]
    assert apology.coach_flags[1]["text"] == "es nuestra politica"  # the words as typed, at their place
    assert apology.coach_flags[0]["suggestion"] == "Siento las molestias que le hemos causado."


def test_without_a_customer_language_the_writers_language_decides(incident, frontline):
    with translation.override("es"):
        apology = services.record_apology(incident, by=frontline, channel="phone", text=FAKE_SPANISH_APOLOGY)
    assert len(apology.coach_flags) == 3


def test_an_english_apology_is_not_checked_against_the_spanish_list(incident, frontline):
    with translation.override("en"):
        apology = services.record_apology(incident, by=frontline, channel="phone",
                                          text="I'm sorry for any inconvenience, it's our policy.")
    assert [flag["phrase"] for flag in apology.coach_flags] == ["sorry for any inconvenience", "it's our policy"]
    assert coach.language_of_apology(incident.customer) == "en"


def test_the_incident_page_sends_the_phrases_of_the_customers_language_to_the_script(client, incident, frontline,
                                                                                    customer):
    customer.language = "es-MX"
    customer.save(update_fields=["language"])
    client.force_login(frontline)
    body = client.get(f"/incidents/{incident.reference}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    script_data = body.split('id="coach-phrases"')[1].split("</script>")[0]
    assert "lamentamos cualquier inconveniente" in script_data and "sorry for any inconvenience" not in script_data


def test_accents_and_case_are_ignored_but_the_place_in_the_text_is_kept():
    flags = coach.find_flags("Bueno… ES NUESTRA POLÍTICA.", [("es nuestra politica", "policy", "x")])
    assert flags[0]["text"] == "ES NUESTRA POLÍTICA" and flags[0]["start"] == 7


def test_the_phrases_page_lists_and_adds_phrases_per_language(client, manager, organization):
    client.force_login(manager)
    spanish = client.get("/coach/phrases/", {"language": "es"}).content.decode()
    assert "es nuestra política" in spanish and "it&#x27;s our policy" not in spanish

    response = client.post("/coach/phrases/?language=es", {"language": "es", "phrase": "cálmese", "kind": "dismissive",
                                                           "suggestion": "Entiendo que esté molesto.", "active": "on"})

    assert response.status_code == 302 and response["Location"].endswith("?language=es")
    assert CoachPhrase.objects.get(organization=organization, phrase="cálmese").language == "es"


def test_the_same_phrase_may_be_on_two_languages_lists_but_not_twice_on_one(organization, manager):
    services.save_coach_phrase(organization, by=manager, language="es", phrase="ok", kind="dismissive", suggestion="x")
    services.save_coach_phrase(organization, by=manager, language="en", phrase="ok", kind="dismissive", suggestion="x")
    with pytest.raises(services.Conflict):
        services.save_coach_phrase(organization, by=manager, language="es", phrase="OK", kind="dismissive",
                                   suggestion="x")


def test_an_unknown_language_on_the_phrases_page_shows_the_managers_own_list(client, manager):
    client.force_login(manager)
    response = client.get("/coach/phrases/", {"language": "zz"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and "it&#x27;s our policy" in response.content.decode()


def test_the_built_in_spanish_list_is_the_one_the_migration_gives_existing_organizations(db):
    from importlib import import_module

    migration = import_module("incidents.migrations.0025_languages")
    assert migration.SPANISH_PHRASES == coach.DEFAULT_PHRASES["es"]
    factories.OrganizationFactory()  # a new one gets the same
