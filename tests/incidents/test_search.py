"""The incident search: what it finds, in which order, and only what the person may see."""

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import selectors, services
from incidents.customer_data import anonymize_customer
from incidents.models import Incident
from tests import factories


def found(user, query):
    return list(selectors.search_incidents(user, query))


@pytest.fixture
def soup(frontline, location, customer, clock_at_start):
    return factories.log_incident(user=frontline, location=location, customer=customer, summary="Soup arrived cold")


def test_a_new_incident_is_found_by_its_customer_its_email_and_its_summary(frontline, soup):
    for query in ("Lovelace", "ada lovelace", "ada@example.com", "soup", "arrived COLD", "lovel"):
        assert found(frontline, query) == [soup], query


def test_every_word_must_match(frontline, soup):
    assert found(frontline, "soup hot") == []


def test_the_notes_of_every_step_become_findable_when_written(frontline, soup):
    assert found(frontline, "dessert") == []
    services.record_apology(soup, by=frontline, channel="in_person", text="So sorry about the dessert")
    assert found(frontline, "dessert") == [soup]
    services.record_review(soup, by=frontline, customer_account="Waited an hour", customer_needs="A voucher",
                           customer_losses="Missed the theatre")
    services.record_fix(soup, by=frontline, description="Chef remade the gazpacho", fixed=True)
    services.record_follow_up(soup, by=frontline, kind="immediate", channel="phone", note="Called about the taxi")
    services.record_deposition(soup, by=frontline, root_cause="Broken bain-marie", circumstances="Anniversary dinner",
                               busyness="busy", prevention="Service the heater")
    for query in ("theatre", "voucher", "gazpacho", "taxi", "bain", "anniversary", "heater"):
        assert found(frontline, query) == [soup], query


def test_a_changed_summary_is_searched_and_the_old_one_is_not(frontline, soup, clock_at_start):
    services.update_details(soup, by=frontline, summary="Room not cleaned")
    assert found(frontline, "cleaned") == [soup]
    assert found(frontline, "soup") == []


def test_a_reference_typed_finds_that_incident_alone(frontline, location, soup):
    factories.log_incident(user=frontline, location=location, summary=f"Follow-on to {soup.reference}")
    assert found(frontline, soup.reference) == [soup]
    assert found(frontline, soup.reference.lower().replace("-", "")) == [soup]
    assert found(frontline, f"R-{soup.pk}") == [soup]


def test_search_follows_who_may_see_what(frontline, manager, admin, organization, location, other_location, soup):
    elsewhere = factories.log_incident(user=factories.UserFactory(organization=organization, locations=[other_location]),
                                       location=other_location, summary="Soup spilled")
    other_org = factories.LocationFactory()
    foreign = factories.log_incident(user=factories.UserFactory(organization=other_org.organization, locations=[other_org]),
                                     location=other_org, summary="Soup everywhere")
    assert found(frontline, "soup") == [soup]
    assert found(manager, "soup") == [soup]
    assert set(found(admin, "soup")) == {soup, elsewhere}
    assert foreign not in found(admin, "soup")


def test_nothing_typed_or_nothing_searchable_finds_nothing(frontline, soup):
    for query in ("", "   ", "&", "-", "'", "\\", "\x00", "!:*"):
        assert found(frontline, query) == [], repr(query)


def test_operators_of_postgresql_typed_are_plain_text(frontline, location, soup):
    tricky = factories.log_incident(user=frontline, location=location, summary="O'Brien & sons: a !great mess")
    for query in ("o'brien", "sons:", "!great", "mess &", "(mess)", "great|mess"):
        assert tricky in found(frontline, query), query


def test_an_anonymized_customer_is_no_longer_found_by_name_or_notes(frontline, soup, customer):
    services.record_apology(soup, by=frontline, channel="in_person", text="Sorry about the dessert")
    anonymize_customer(customer)
    assert found(frontline, "lovelace") == []
    assert found(frontline, "dessert") == []


def test_the_page_lists_incidents_and_customers(client, frontline, soup):
    client.force_login(frontline)
    response = client.get(reverse("search"), {"q": "lovelace"})
    assert response.status_code == 200
    assert list(response.context["incidents"]) == [soup]
    assert [c.name for c in response.context["customers"]] == ["Ada Lovelace"]
    assert soup.reference in response.content.decode()


def test_the_page_refuses_a_query_too_long_and_keeps_it(client, frontline, soup):
    client.force_login(frontline)
    response = client.get(reverse("search"), {"q": "soup " * 50})
    assert response.status_code == 400
    assert response.context["incidents"] == []
    assert "soup soup" in response.content.decode()


def test_the_page_shows_an_empty_search_plainly(client, frontline):
    client.force_login(frontline)
    assert client.get(reverse("search")).status_code == 200
    assert client.get(reverse("search"), {"q": ""}).status_code == 200


def test_the_header_box_searches_incidents_and_customers(client, frontline):
    client.force_login(frontline)
    page = client.get(reverse("home")).content.decode()
    assert f'action="{reverse("search")}"' in page


def test_the_document_does_not_move_the_helpdesks_sync_clock(frontline, soup, clock_at_start):
    before = Incident.objects.get(pk=soup.pk).updated_at
    clock_at_start.shift(60)
    services.search.refresh_search(soup.pk)
    assert Incident.objects.get(pk=soup.pk).updated_at == before
    assert timezone.now() > before


def test_a_reference_typed_on_the_page_lists_its_incident_and_no_customer_search(client, frontline, soup):
    client.force_login(frontline)
    response = client.get(reverse("search"), {"q": soup.reference.lower()})
    assert list(response.context["incidents"]) == [soup]
    assert response.context["customers"] == []
    assert "found-customers" not in response.content.decode()
