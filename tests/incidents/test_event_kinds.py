"""Every kind of timeline entry is named once (EventKind) and is either sent to webhooks or internal."""

import pytest

from incidents import events
from helpdesk.webhooks import EVENT_TYPES
from incidents.models import INTERNAL_EVENT_KINDS, EventKind


@pytest.mark.parametrize("kind", list(EventKind))
def test_each_kind_is_a_webhook_type_or_marked_internal(kind):
    assert (kind in EVENT_TYPES) != (kind in INTERNAL_EVENT_KINDS), kind


def test_an_unknown_kind_is_refused_before_it_is_written(incident):
    with pytest.raises(ValueError):
        events.new_event(incident, "aplogy", "Typo", at=incident.logged_at)
