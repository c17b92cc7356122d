"""The list's ?q=: the page's search condition, with the list's own order, cursor and strict filters."""

import pytest
from rest_framework.test import APIClient

from tests import factories


@pytest.fixture
def soup(frontline, location, customer, clock_at_start):
    return factories.log_incident(user=frontline, location=location, customer=customer, summary="Soup arrived cold")


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_q_finds_by_customer_summary_notes_and_reference(api, soup, frontline, location):
    other = factories.log_incident(user=frontline, location=location, summary="Room not ready")
    for query in ("lovelace", "ada@example.com", "cold soup", soup.reference):
        assert ids(api.get("/api/v1/incidents/", {"q": query})) == [soup.pk], query
    assert set(ids(api.get("/api/v1/incidents/", {"q": ""}))) == {soup.pk, other.pk}  # empty: no search


def test_q_combines_with_the_other_filters_and_keeps_the_order(api, soup, frontline, location, other_location):
    newer = factories.log_incident(user=frontline, location=location, summary="Cold soup again")
    assert ids(api.get("/api/v1/incidents/", {"q": "soup"})) == [newer.pk, soup.pk]
    assert ids(api.get("/api/v1/incidents/", {"q": "soup", "ordering": "logged_at"})) == [soup.pk, newer.pk]
    assert ids(api.get("/api/v1/incidents/", {"q": "soup", "location": other_location.code})) == []


def test_q_follows_who_may_see_what(soup, frontline, organization, other_location):
    clerk = factories.UserFactory(organization=organization, locations=[other_location])
    elsewhere = factories.log_incident(user=clerk, location=other_location, summary="Soup spilled")
    staff = APIClient()
    staff.force_authenticate(frontline)
    assert ids(staff.get("/api/v1/incidents/", {"q": "soup"})) == [soup.pk]
    rival = factories.LocationFactory()
    factories.log_incident(user=factories.UserFactory(organization=rival.organization, locations=[rival]),
                           location=rival, summary="Soup everywhere")
    staff.force_authenticate(clerk)
    assert ids(staff.get("/api/v1/incidents/", {"q": "soup"})) == [elsewhere.pk]


def test_a_q_too_long_is_a_400_naming_it(api, soup):
    response = api.get("/api/v1/incidents/", {"q": "soup " * 50})
    assert response.status_code == 400
    assert "q" in str(response.json())


def test_odd_text_in_q_answers_plainly(api, soup):
    for query in ("&", "!:*", "'", "\\", "(((", "ü", "o'brien:*|x"):
        assert api.get("/api/v1/incidents/", {"q": query}).status_code == 200, repr(query)
    assert api.get("/api/v1/incidents/", {"q": "a\x00b"}).status_code == 400  # NUL is never text
