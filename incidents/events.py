"""The timeline: one small function writes every event, so each change reads the same way.

Events are append-only; `Event.save` refuses to overwrite one and nothing here edits or deletes.
"""

from .models import Event, EventKind


def record_event(incident, kind, summary, **details):
    event = new_event(incident, kind, summary, **details)
    event.save()
    return event


def new_event(incident, kind, summary, *, at, actor=None, actor_label="", before=None, after=None):
    """An event not saved yet, for a caller that writes it together with the incident."""
    return Event(
        incident=incident,
        at=at,
        actor=actor,
        actor_label=actor_label,
        kind=EventKind(kind),  # an unknown kind is a mistake in the code: refused here, not stored
        summary=summary[:300],
        before=before or {},
        after=after or {},
    )


def changes(old, new):
    """The fields whose values differ, as (before, after) dicts for an event."""
    keys = [key for key in new if old.get(key) != new.get(key)]
    return {key: old.get(key) for key in keys}, {key: new[key] for key in keys}
