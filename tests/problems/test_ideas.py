"""Customers' ideas on a problem: their words from the review or their satisfaction answer attached as an
idea, and once the problem is fixed a thank-you to each customer ("you told us, we changed it"), sent as
a message to the customer when they can be messaged, else a call on the owner's list; once per idea."""

import datetime

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from followups.models import Notification
from incidents import services as incident_services
from incidents.customer_data import REDACTED, anonymize_customer
from incidents.services import Conflict, NotAllowed, RecoveryError
from outreach import services as outreach
from outreach import survey
from outreach.models import Message
from problems import ideas, services
from problems.models import CustomerIdea, ProblemEvent
from tests import factories
from tests.conftest import START
from tests.outreach.conftest import smtp  # noqa: F401 (a fixture: real SMTP on 127.0.0.1, as outreach's tests use)

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
NEEDS = "A heat lamp at the pass, so the soup stays hot"
SUGGESTION = "Check the soup's temperature before it leaves the kitchen"


@pytest.fixture
def owner(manager):
    manager.first_name, manager.last_name, manager.email = "Mona", "Reyes", "mona@harbour.example"
    manager.save()
    return manager


def reviewed(frontline, location, customer=None, *, needs=NEEDS, now=START):
    incident = factories.log_incident(user=frontline, location=location, customer=customer, now=now)
    incident_services.record_apology(incident, by=frontline, channel="in_person", text="I am so sorry.", now=now)
    incident_services.record_review(incident, by=frontline, customer_account="The soup was cold.",
                                    customer_needs=needs, now=now)
    return incident


def answered(frontline, location, customer=None, *, suggestion=SUGGESTION, now=START):
    incident = factories.log_incident(user=frontline, location=location, customer=customer, now=now)
    survey.record_answer(incident, feeling=4, would_recommend=8, suggestion=suggestion, now=now)
    return incident


def problem_of(owner, *incidents):
    return services.open_problem(by=owner, title="Soup goes cold at the pass", owner=owner, incidents=incidents, now=START)


def fixed(problem, owner, *, action="Fitted a heat lamp at the pass"):
    done = services.add_action(problem, by=owner, description=action, owner=owner, due_on=START.date(), now=START)
    services.complete_action(done, by=owner, now=START + DAY)
    problem.refresh_from_db()
    services.mark_fixed(problem, by=owner, version=problem.version, fixed_at=START + DAY, now=START + DAY)
    problem.refresh_from_db()
    return problem


def section_html(problem, user, session=None):
    """The section as the problem page includes it: only `problem`, `request` and `user` in the context."""
    request = RequestFactory().get(reverse("problems:detail", args=[problem.pk]))
    request.user, request.session = user, session if session is not None else SessionStore()
    template = Template('{% include "problems/_ideas.html" %}')
    return template.render(Context({"problem": problem, "request": request, "user": user}))


def session_of(client):
    return SessionStore(session_key=client.session.session_key)


# --- Attaching ideas -----------------------------------------------------------------------------------


def test_the_section_offers_the_customers_words_from_the_review_and_the_satisfaction_answer(owner, frontline, location):
    from_review, from_survey = reviewed(frontline, location), answered(frontline, location)
    problem = problem_of(owner, from_review, from_survey)
    factories.log_incident(user=frontline, location=location, now=START)  # no words: not offered

    offered = {(s.incident, s.source, s.text) for s in ideas.suggestions_for(problem)}
    assert offered == {(from_review, CustomerIdea.Source.REVIEW, NEEDS), (from_survey, CustomerIdea.Source.SURVEY, SUGGESTION)}
    html = section_html(problem, owner)
    assert "What customers suggested" in html
    assert from_review.reference in html and from_survey.reference in html
    assert NEEDS in html and SUGGESTION.replace("'", "&#x27;") in html


def test_a_manager_attaches_the_customers_words_from_the_review_on_the_page(owner, frontline, location, client):
    incident = reviewed(frontline, location)
    problem = problem_of(owner, incident)
    client.force_login(owner)

    response = client.post(reverse("problems:attach_idea", args=[problem.pk]),
                           {"incident": incident.pk, "source": "review", "text": "  A heat lamp at the pass  "})

    assert response.status_code == 302 and response["Location"].endswith(f"/manage/problems/{problem.pk}/#ideas")
    idea = problem.ideas.get()
    assert (idea.incident, idea.source, idea.text, idea.attached_by) == (incident, "review", "A heat lamp at the pass", owner)
    (event,) = problem.events.filter(kind=ProblemEvent.Kind.IDEA_ATTACHED)
    assert incident.reference in event.summary and "heat lamp" not in event.summary  # the customer's words stay off the timeline
    html = section_html(problem, owner)
    assert incident.customer.name in html and "A heat lamp at the pass" in html
    assert not ideas.suggestions_for(problem)  # attached: no longer offered


def test_an_idea_from_the_satisfaction_answer_is_attached(owner, frontline, location):
    incident = answered(frontline, location)
    problem = problem_of(owner, incident)

    idea = ideas.attach_idea(problem, by=owner, incident=incident, text=SUGGESTION, source="survey", now=START)

    assert (idea.source, idea.text, idea.attached_at) == (CustomerIdea.Source.SURVEY, SUGGESTION, START)
    with pytest.raises(RecoveryError) as refused:  # once per incident and source
        ideas.attach_idea(problem, by=owner, incident=incident, text="Again", source="survey", now=START)
    assert "incident" in refused.value.field_errors and problem.ideas.count() == 1


def test_an_incident_not_linked_to_the_problem_is_refused_and_nothing_written(owner, frontline, location):
    problem = problem_of(owner, reviewed(frontline, location))
    elsewhere = reviewed(frontline, location)  # the organization's, but not linked

    with pytest.raises(RecoveryError) as refused:
        ideas.attach_idea(problem, by=owner, incident=elsewhere, text=NEEDS, source="review", now=START)

    assert refused.value.field_errors == {"incident": ["Choose an incident linked to this problem."]}
    assert not CustomerIdea.objects.exists()
    assert not problem.events.filter(kind=ProblemEvent.Kind.IDEA_ATTACHED).exists()


def test_an_incident_of_another_organization_is_refused_on_the_page_and_what_was_typed_kept(owner, frontline, location, client):
    problem = problem_of(owner, reviewed(frontline, location))
    theirs = factories.OrganizationFactory(name="Other Inns", slug="other")
    their_place = factories.LocationFactory(organization=theirs, name="Dockside", code="dockside")
    their_clerk = factories.UserFactory(username="otto", organization=theirs, locations=[their_place])
    their_incident = reviewed(their_clerk, their_place)
    client.force_login(owner)

    response = client.post(reverse("problems:attach_idea", args=[problem.pk]),
                           {"incident": their_incident.pk, "source": "review", "text": "Words typed here"})

    assert response.status_code == 302
    assert not CustomerIdea.objects.exists()
    assert not problem.events.filter(kind=ProblemEvent.Kind.IDEA_ATTACHED).exists()
    html = section_html(problem, owner, session_of(client))
    assert "Choose an incident linked to this problem." in html and "Words typed here" in html


def test_an_empty_text_is_a_field_error_with_the_form_kept(owner, frontline, location, client):
    incident = reviewed(frontline, location)
    problem = problem_of(owner, incident)
    client.force_login(owner)

    client.post(reverse("problems:attach_idea", args=[problem.pk]), {"incident": incident.pk, "source": "review", "text": "   "})
    client.post(reverse("problems:attach_idea", args=[problem.pk]), {"incident": "not-a-number", "source": "?", "text": "x"})

    assert not CustomerIdea.objects.exists()
    with pytest.raises(RecoveryError) as refused:
        ideas.attach_idea(problem, by=owner, incident=incident, text="", source="nowhere", now=START)
    assert set(refused.value.field_errors) == {"text", "source"}


def test_frontline_staff_get_403_on_the_ideas_doors_and_nothing_is_written(owner, frontline, location, client):
    incident = reviewed(frontline, location)
    problem = problem_of(owner, incident)
    idea = ideas.attach_idea(problem, by=owner, incident=incident, text=NEEDS, source="review", now=START)
    fixed(problem, owner)
    client.force_login(frontline)

    attach = client.post(reverse("problems:attach_idea", args=[problem.pk]),
                         {"incident": incident.pk, "source": "staff", "text": "Mine"})
    thank = client.post(reverse("problems:thank_customer", args=[problem.pk, idea.pk]), {"text": "Thanks"})

    assert (attach.status_code, thank.status_code) == (403, 403)
    assert problem.ideas.count() == 1 and not Message.objects.exists()
    with pytest.raises(NotAllowed):
        ideas.attach_idea(problem, by=frontline, incident=incident, text="Mine", source="staff", now=START)


def test_a_manager_who_cannot_see_the_problem_gets_404(owner, frontline, location, other_location, organization, client):
    problem = problem_of(owner, reviewed(frontline, location))
    problem.location = location
    problem.has_pattern = True
    problem.save()
    hilltop = factories.UserFactory(username="hugo", organization=organization, role="manager", locations=[other_location])
    client.force_login(hilltop)

    response = client.post(reverse("problems:attach_idea", args=[problem.pk]), {"incident": "1", "source": "staff", "text": "x"})

    assert response.status_code == 404 and not CustomerIdea.objects.exists()


# --- Thanking the customers ---------------------------------------------------------------------------


def test_the_fixed_problem_offers_a_thank_you_naming_what_changed(owner, frontline, location):
    incident = reviewed(frontline, location)
    problem = problem_of(owner, incident)
    idea = ideas.attach_idea(problem, by=owner, incident=incident, text="A heat lamp at the pass", source="review", now=START)
    assert "Thank the customers who suggested it" not in section_html(problem, owner)  # not fixed yet
    with pytest.raises(RecoveryError):
        ideas.thank_customer(idea, by=owner, text="Thanks", now=START)

    fixed(problem, owner)

    draft = ideas.thank_you_draft(idea)
    assert "You told us: “A heat lamp at the pass”" in draft and "changed this: fitted a heat lamp at the pass." in draft
    html = section_html(problem, owner)
    assert "Thank the customers who suggested it" in html and "Send the thank-you" in html


def test_the_thank_you_is_sent_to_the_customer_as_a_message_from_the_page(owner, frontline, location, client, smtp,
                                                                          time_machine):
    customer = factories.CustomerFactory(organization=location.organization, name="Ada Lovelace", email="ada@example.com")
    incident = reviewed(frontline, location, customer)
    problem = problem_of(owner, incident)
    idea = ideas.attach_idea(problem, by=owner, incident=incident, text=NEEDS, source="review", now=START)
    fixed(problem, owner)
    time_machine.move_to(START + 2 * DAY, tick=False)
    client.force_login(owner)

    response = client.post(reverse("problems:thank_customer", args=[problem.pk, idea.pk]),
                           {"text": "You told us the soup went cold; we fitted a heat lamp. Thank you, Ada."})

    assert response.status_code == 302
    assert "The thank-you to Ada Lovelace goes by email to ada@example.com." in client.get(response["Location"]).content.decode()
    idea.refresh_from_db()
    message = idea.thank_you_message
    assert (message.kind, message.status, message.author, message.to) == (
        Message.Kind.THANK_YOU, Message.Status.SCHEDULED, owner, "ada@example.com")
    assert idea.thanked_at == START + 2 * DAY
    assert outreach.send_due(now=START + 2 * DAY).sent == 1
    (received,) = smtp.messages
    assert received.recipients == ["ada@example.com"]
    assert received.text.startswith("You told us the soup went cold; we fitted a heat lamp. Thank you, Ada.")
    (event,) = problem.events.filter(kind=ProblemEvent.Kind.THANKED)
    assert incident.reference in event.summary and "by email" in event.summary
    assert "thanked" in section_html(problem, owner) and "Send the thank-you" not in section_html(problem, owner)


@pytest.mark.parametrize("reachable", ["opted_out", "no_address"])
def test_a_customer_who_cannot_be_messaged_becomes_a_call_for_the_owner(owner, frontline, location, reachable):
    customer = factories.CustomerFactory(organization=location.organization, name="Grace Hopper", email="grace@example.com")
    if reachable == "opted_out":
        customer.opted_out_at = START
    else:
        customer.email, customer.phone = "", ""
    customer.save()
    incident = answered(frontline, location, customer)
    problem = problem_of(owner, incident)
    idea = ideas.attach_idea(problem, by=owner, incident=incident, text=SUGGESTION, source="survey", now=START)
    fixed(problem, owner)
    assert "Add a call to thank them" in section_html(problem, owner)

    ideas.thank_customer(idea, by=owner, text="Thank you for the idea about the soup.", now=START + 2 * DAY)

    assert not Message.objects.exists()
    (task,) = Notification.objects.filter(recipient=owner, kind=Notification.Kind.PROBLEM_UPDATE)
    assert task.title == "Call Grace Hopper to thank them: Soup goes cold at the pass"
    assert "Thank you for the idea about the soup." in task.body
    assert task.link == reverse("problems:detail", args=[problem.pk])
    idea.refresh_from_db()
    assert idea.thanked_at == START + 2 * DAY and idea.thank_you_message is None
    assert "as a call" in problem.events.get(kind=ProblemEvent.Kind.THANKED).summary


def test_a_customer_is_thanked_once_for_an_idea(owner, frontline, location, client, time_machine):
    incident = reviewed(frontline, location)
    problem = problem_of(owner, incident)
    idea = ideas.attach_idea(problem, by=owner, incident=incident, text=NEEDS, source="review", now=START)
    fixed(problem, owner)
    ideas.thank_customer(idea, by=owner, text="Thank you!", now=START + 2 * DAY)

    with pytest.raises(Conflict):
        ideas.thank_customer(idea, by=owner, text="Thank you again!", now=START + 3 * DAY)
    time_machine.move_to(START + 3 * DAY, tick=False)
    client.force_login(owner)
    client.post(reverse("problems:thank_customer", args=[problem.pk, idea.pk]), {"text": "And again"})

    assert Message.objects.filter(kind=Message.Kind.THANK_YOU).count() == 1
    assert problem.events.filter(kind=ProblemEvent.Kind.THANKED).count() == 1
    idea.refresh_from_db()
    assert idea.thanked_at == START + 2 * DAY


def test_an_empty_thank_you_is_refused_and_nothing_sent(owner, frontline, location):
    incident = reviewed(frontline, location)
    problem = problem_of(owner, incident)
    idea = ideas.attach_idea(problem, by=owner, incident=incident, text=NEEDS, source="review", now=START)
    fixed(problem, owner)

    with pytest.raises(RecoveryError) as refused:
        ideas.thank_customer(idea, by=owner, text="  ", now=START + 2 * DAY)

    assert "text" in refused.value.field_errors
    idea.refresh_from_db()
    assert idea.thanked_at is None and not Message.objects.exists()


# --- The customer's data rights -------------------------------------------------------------------------


def test_anonymizing_the_customer_scrubs_their_ideas(owner, frontline, location):
    customer = factories.CustomerFactory(organization=location.organization, name="Ada Lovelace")
    mine, other = reviewed(frontline, location, customer), reviewed(frontline, location, needs="Another customer's words")
    problem = problem_of(owner, mine, other)
    ideas.attach_idea(problem, by=owner, incident=mine, text=NEEDS, source="review", now=START)
    kept = ideas.attach_idea(problem, by=owner, incident=other, text="Another customer's words", source="review", now=START)

    anonymize_customer(customer)

    assert problem.ideas.get(incident=mine).text == REDACTED
    kept.refresh_from_db()
    assert kept.text == "Another customer's words"
    assert not any(NEEDS in event.summary for event in problem.events.all())


def test_the_problem_page_shows_the_section_and_a_refusal_with_what_was_typed(owner, frontline, location, client):
    incident = reviewed(frontline, location)
    problem = problem_of(owner, incident)
    client.force_login(owner)

    client.post(reverse("problems:attach_idea", args=[problem.pk]),
                {"incident": incident.pk, "source": "review", "text": "x" * 2001})
    page = client.get(reverse("problems:detail", args=[problem.pk])).content.decode()
    again = client.get(reverse("problems:detail", args=[problem.pk])).content.decode()

    assert "What customers suggested" in page and incident.customer.name in page
    assert "At most 2,000 characters (this has 2,001)." in page and "x" * 2001 in page
    assert "At most 2,000 characters" not in again and NEEDS in again  # shown once; then the customer's words again


def test_the_section_costs_the_same_queries_for_one_idea_or_many(owner, frontline, location):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_to_render(count):
        incidents = [reviewed(frontline, location, needs=f"Idea {n}") for n in range(count)]
        problem = problem_of(owner, *incidents)
        for incident in incidents[:-1]:
            ideas.attach_idea(problem, by=owner, incident=incident, text="Words", source="review", now=START)
        fixed(problem, owner)
        with CaptureQueriesContext(connection) as captured:
            section_html(problem, owner)
        return len(captured)

    assert queries_to_render(2) == queries_to_render(6)
