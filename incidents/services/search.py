"""An incident's search document: the text a person may find it by, rewritten by every service that
changes that text (logging, the steps, a change of details, a customer's data erased).

What is in it: the customer's name and email, the summary, and the notes people write on the steps
(the apology's words, the review's account, losses and needs, the fix, every follow-up's note, the
deposition's circumstances, root cause and prevention). Not the timeline: its entries repeat those
notes, and the escalations in it are internal. The reference is matched exactly on its own index.
"""

from django.contrib.postgres.search import SearchVector
from django.db import connection
from django.db.models import Value

from ..models import FollowUp, Incident

# The 'simple' configuration: no stemming in one language, as the names and notes are written in many.
SEARCH_CONFIG = "simple"

DOCUMENT_FIELDS = (
    "customer__name", "customer__email", "summary", "apology__text", "review__customer_account",
    "review__customer_losses", "review__customer_needs", "fix__description", "deposition__circumstances",
    "deposition__root_cause", "deposition__prevention",
)


def search_vector_of(expression):
    """The tsvector of the document, as the GIN index of migration 0022 and the search both read it."""
    return SearchVector(expression, config=SEARCH_CONFIG)


def document_of(incident_id):
    """The incident's search document, read in two queries (the incident with its one-to-one steps, and
    the notes of its follow-ups)."""
    row = Incident.objects.filter(pk=incident_id).values_list(*DOCUMENT_FIELDS).first()
    if row is None:
        return ""
    notes = FollowUp.objects.filter(incident_id=incident_id).order_by("done_at", "pk").values_list("note", flat=True)
    return "\n".join(part for part in (*row, *notes) if part)


def search_values(document):
    """The two columns for a document: its text, and on PostgreSQL its tsvector (SQLite has none)."""
    values = {"search_document": document}
    if connection.vendor == "postgresql":
        values["search_vector"] = search_vector_of(Value(document))
    return values


def new_document(incident, customer):
    """A new incident's document from what logging holds in hand (no step recorded yet): no query."""
    return "\n".join(part for part in (customer.name, customer.email, incident.summary) if part)


def refresh_search(*incident_ids):
    """Rewrite the search document of these incidents, in the caller's transaction. An UPDATE of the
    two columns alone: the incident's `updated_at` (the helpdesk's sync) does not move for it."""
    for incident_id in incident_ids:
        Incident.objects.filter(pk=incident_id).update(**search_values(document_of(incident_id)))
