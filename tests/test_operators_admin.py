"""The operators' admin changes an organization through the same service as Settings."""

import datetime

from django.contrib.auth import get_user_model
from django.urls import reverse

from incidents.models import Organization


def test_an_operator_changes_an_organizations_clock_through_the_service(client, organization, monkeypatch):
    from organization_settings import services

    operator = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123456", organization=None)
    client.force_login(operator)
    called = []
    real = services.update_organization
    monkeypatch.setattr(services, "update_organization", lambda *a, **k: called.append(k) or real(*a, **k))
    url = reverse("admin:incidents_organization_change", args=[organization.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'name="slug"' not in page.content.decode()  # the slug stays

    answer = client.post(url, {
        "name": organization.name, "currency": "EUR", "follow_up_window": "00:15:00", "heads_up_before": "00:05:00",
        "escalate_after": "00:15:00", "progress_report_every": "1 00:00:00", "check_back_after": "1 00:00:00",
        "wrap_up_after": "2 00:00:00", "default_discretion_budget": "50.00", "satisfaction_check_after": "1 00:00:00",
        "progress_reports_send_at": "", "quiet_hours_start": "21:00:00", "quiet_hours_end": "08:00:00",
        "problem_watch_period": "28 00:00:00", "care_flag_days": "90", "language": "en",
    })

    assert answer.status_code == 302, answer.content.decode()[:2000]
    organization = Organization.objects.get(pk=organization.pk)
    assert organization.follow_up_window == datetime.timedelta(minutes=15) and organization.currency == "EUR"
    assert called and called[0]["by"] == operator and set(called[0]) == {"by", "currency", "follow_up_window"}


def operator_in(client):
    operator = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123456", organization=None)
    client.force_login(operator)
    return operator


def test_an_operator_adds_a_coach_phrase_by_the_managers_rules(client, organization):
    operator_in(client)
    existing = organization.coach_phrases.first()
    add = reverse("admin:incidents_coachphrase_add")
    typed = {"organization": organization.pk, "phrase": f"  {existing.phrase.upper()} ", "kind": "policy",
             "suggestion": "Say what you will do.", "active": "on"}

    refused = client.post(add, typed)

    # The same phrase in other letters is already on the list: the form says so and keeps what was typed.
    assert refused.status_code == 200 and "Already on the list." in refused.content.decode()
    assert "Say what you will do." in refused.content.decode()
    assert organization.coach_phrases.filter(phrase__iexact=existing.phrase).count() == 1

    added = client.post(add, {**typed, "phrase": "  Calm down  "})
    assert added.status_code == 302
    # Trimmed, as the managers' page saves it.
    assert organization.coach_phrases.get(phrase="Calm down").suggestion == "Say what you will do."


def test_an_operator_edits_a_phrase_through_the_service(client, organization, monkeypatch):
    from incidents import services

    operator = operator_in(client)
    called = []
    real = services.save_coach_phrase
    monkeypatch.setattr(services, "save_coach_phrase", lambda *a, **k: called.append(k) or real(*a, **k))
    phrase = organization.coach_phrases.first()
    url = reverse("admin:incidents_coachphrase_change", args=[phrase.pk])
    assert 'name="organization"' not in client.get(url).content.decode()  # a phrase stays with its list

    answer = client.post(url, {"phrase": phrase.phrase, "kind": phrase.kind, "suggestion": "Something warmer.",
                               "active": ""})

    assert answer.status_code == 302, answer.content.decode()[:2000]
    phrase.refresh_from_db()
    assert phrase.suggestion == "Something warmer." and not phrase.active
    assert called and called[0]["by"] == operator and called[0]["coach_phrase"].pk == phrase.pk
