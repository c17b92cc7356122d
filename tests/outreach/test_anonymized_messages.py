"""Anonymizing a customer removes the messages' addresses and words, and stops any not yet sent."""

import pytest

from incidents.customer_data import REDACTED, anonymize_customer
from outreach import services
from outreach.models import Message
from tests import factories

pytestmark = pytest.mark.django_db


def test_messages_lose_address_and_words_and_a_draft_never_goes(frontline):
    customer = factories.CustomerFactory(organization=frontline.organization, name="Dana Price", email="dana@example.com")
    incident = factories.log_incident(user=frontline, customer=customer)
    sent = services.draft_message(incident, kind=Message.Kind.WRAP_UP, body="Dear Dana Price, thank you.", author=frontline)
    Message.objects.filter(pk=sent.pk).update(status=Message.Status.SENT)
    draft = services.draft_message(incident, kind=Message.Kind.CHECK_BACK, body="Dana, all well?", author=frontline)
    other = services.draft_message(factories.log_incident(user=frontline), kind=Message.Kind.WRAP_UP, body="Kept.",
                                   author=frontline)

    anonymize_customer(customer)

    for message in Message.objects.filter(pk__in=[sent.pk, draft.pk]):
        assert (message.to, message.body) == ("", REDACTED) and "Dana" not in message.subject
    assert Message.objects.get(pk=sent.pk).status == Message.Status.SENT
    assert Message.objects.get(pk=draft.pk).status == Message.Status.NOT_SENT
    kept = Message.objects.get(pk=other.pk)
    assert kept.body == "Kept." and kept.status == Message.Status.DRAFT
