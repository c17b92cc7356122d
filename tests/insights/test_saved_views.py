"""Saved views: a person's named filters for a page of the console, applied in one click, deleted."""

from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from insights.models import SavedView
from tests import factories


@pytest.fixture
def signed_in(client, manager):
    client.force_login(manager)
    return client


def save(client, page, name, query, follow=False):
    return client.post(reverse("insights:save_view"), {"page": page, "name": name, "query": query}, follow=follow)


def test_a_view_is_saved_as_the_filter_form_read_it_and_opens_the_page_with_it(signed_in, manager, location):
    response = save(signed_in, "incidents", "Late at Riverside",
                    f"location={location.pk}&overdue=on&stage=&start=4+Nov+2026&utm=x&page=3")
    view = SavedView.objects.get(user=manager)
    # Only the form's own fields, each written back from its parsed value; empty ones and others left out.
    assert parse_qs(view.query) == {"location": [str(location.pk)], "overdue": ["on"], "start": ["2026-11-04"]}
    assert urlparse(response["Location"]).path == reverse("insights:incidents")
    assert parse_qs(urlparse(response["Location"]).query) == parse_qs(view.query)
    page = signed_in.get(reverse("insights:incidents") + "?" + view.query)
    assert page.status_code == 200
    assert page.context["form"].cleaned_data["overdue"] is True
    assert "Late at Riverside" in page.content.decode()


def test_filters_the_page_would_refuse_are_not_saved_and_the_name_typed_is_kept(signed_in, manager, other_location):
    rival = factories.LocationFactory()
    for query in (f"location={rival.pk}", "start=31+Feb+2026", "start=5+Nov+2026&end=4+Nov+2026", f"location={other_location.pk}"):
        response = save(signed_in, "open", "Mine", query)
        assert response.status_code == 400, query
        assert 'value="Mine"' in response.content.decode()
    assert not SavedView.objects.exists()


def test_a_name_is_needed_and_one_line(signed_in):
    assert save(signed_in, "trends", "   ", "").status_code == 400
    assert save(signed_in, "trends", "two\nlines", "").status_code == 400
    assert save(signed_in, "nowhere", "Mine", "").status_code == 400
    assert not SavedView.objects.exists()


def test_the_same_name_again_replaces_the_view(signed_in, manager, location):
    save(signed_in, "open", "Morning", "overdue=on")
    save(signed_in, "open", "Morning", f"location={location.pk}")
    assert list(SavedView.objects.values_list("name", "query")) == [("Morning", f"location={location.pk}")]


def test_no_dates_saved_keeps_the_pages_rolling_period(signed_in):
    save(signed_in, "trends", "Four weeks", "")
    assert SavedView.objects.get().query == ""


def test_each_person_sees_only_their_own_views_on_each_page(client, manager, organization, location):
    other = factories.UserFactory(organization=organization, role="manager", locations=[location])
    client.force_login(other)
    save(client, "open", "Theirs", "overdue=on", follow=True)  # its message shown, not carried to the next page
    client.force_login(manager)
    save(client, "open", "Mine", "overdue=on", follow=True)
    save(client, "trends", "On trends", "", follow=True)
    open_page = client.get(reverse("insights:open")).content.decode()
    assert "Mine" in open_page and "Theirs" not in open_page and "On trends" not in open_page
    assert "On trends" in client.get(reverse("insights:trends")).content.decode()


def test_deleting_a_view_is_the_owners_alone(client, manager, organization, location):
    save_as = factories.UserFactory(organization=organization, role="manager", locations=[location])
    client.force_login(save_as)
    save(client, "open", "Theirs", "")
    theirs = SavedView.objects.get()
    client.force_login(manager)
    assert client.post(reverse("insights:delete_view", args=[theirs.pk])).status_code == 404
    assert SavedView.objects.filter(pk=theirs.pk).exists()
    client.force_login(save_as)
    assert client.get(reverse("insights:delete_view", args=[theirs.pk])).status_code == 405
    response = client.post(reverse("insights:delete_view", args=[theirs.pk]))
    assert response.status_code == 302 and not SavedView.objects.exists()


def test_frontline_staff_have_no_saved_views_of_the_console(client, frontline):
    client.force_login(frontline)
    assert save(client, "open", "Mine", "").status_code == 403
    assert not SavedView.objects.exists()
