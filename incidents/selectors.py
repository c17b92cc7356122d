"""Reads worth naming: who may see which incidents, and the lists pages and the API show."""

import re

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import BooleanField, Case, ExpressionWrapper, F, IntegerField, Q, Value, When
from django.db.models.functions import Collate, Upper
from django.utils import timezone

from .models import Customer, EventKind, Incident, Location, User, care_flag_open_condition, late_condition
from .phones import parse_phone
from .services.search import SEARCH_CONFIG


def sees_console(user):
    """Managers and admins work from the managers' console (and land on it when they sign in); everyone
    else is refused it."""
    return user.is_authenticated and (user.is_manager or user.is_superuser)


def visible_locations(user):
    """Frontline staff and managers see their own locations; admins their whole organization."""
    if not user.is_authenticated:
        return Location.objects.none()
    if user.is_superuser and user.organization_id is None:
        return Location.objects.all()
    locations = Location.objects.filter(organization_id=user.organization_id)
    if user.role == User.Role.ADMIN:
        return locations
    return locations.filter(staff=user)


def visible_incidents(user, *, ids_first=False):
    """Incidents at the user's locations, plus any they own or help on elsewhere.

    `ids_first` reads the user's location ids and the incidents they help on first (two small queries)
    and puts them in the query as values: the search's plan then ANDs the GIN index with the location
    and owner indexes (a BitmapAnd), where subqueries would leave it to filter row by row."""
    if not user.is_authenticated:
        return Incident.objects.none()
    if user.is_superuser and user.organization_id is None:
        return Incident.objects.all()
    incidents = Incident.objects.filter(organization_id=user.organization_id)
    if user.role == User.Role.ADMIN:
        return incidents
    # Every condition is on the incident row itself (helping is a subquery, not a join): no DISTINCT,
    # so a list's ORDER BY logged_at … LIMIT walks the organization's index and stops after one page.
    helping = Incident.helpers.through.objects.filter(user=user).values("incident_id")
    locations = visible_locations(user)
    if ids_first:
        helping = list(helping.values_list("incident_id", flat=True))
        locations = list(locations.values_list("pk", flat=True))
    return incidents.filter(Q(location__in=locations) | Q(owner=user) | Q(pk__in=helping))


def visible_customers(user):
    if not user.is_authenticated:
        return Customer.objects.none()
    if user.is_superuser and user.organization_id is None:
        return Customer.objects.all()
    return Customer.objects.filter(organization_id=user.organization_id)


def open_incidents_for(user, *, now=None):
    """The user's own open recoveries (owned or helping on), most urgent first: late ones (the twenty-minute
    window passed with nothing done), then the earliest promise to the customer still unkept
    (`promise_due_at`: an overdue wrap-up or progress report before one due later).

    The cost follows the person's own rows, not the organization's open incidents: the ids are the UNION
    of the open incidents they own (index incident_owner_open: owner, closed_at) and those they help on
    (the helpers table's index on the user), and only those rows are read, sorted and counted.
    """
    owned = Incident.objects.filter(owner=user, closed_at__isnull=True).order_by().values("pk")
    helping = Incident.helpers.through.objects.filter(user=user).values("incident_id")
    return (
        Incident.objects.filter(pk__in=owned.union(helping), closed_at__isnull=True)
        .select_related("customer", "location", "category", "organization")
        .alias(late=Case(When(late_condition(now or timezone.now()), then=Value(0)), default=Value(1),
                         output_field=IntegerField()))
        .order_by("late", F("promise_due_at").asc(nulls_last=True), "logged_at", "pk")
    )


# Entries the timeline is append-only about but shows nobody: incidents logged from the page before the
# form's token moved onto the incident (migration 0011) carry it in one of these.
HIDDEN_EVENT_KINDS = [EventKind.LOGGED_FROM_PAGE]


def timeline(incident):
    return incident.events.exclude(kind__in=HIDDEN_EVENT_KINDS).select_related("actor").order_by("at", "id")


def search_customers(user, query, *, limit=8):
    """Customers of the user's organization whose name, email or phone contains `query`, as typed into
    the Log a failure form: exact matches first, then names that start with it, then the rest; flagged
    customers first among the exact and the starting ones, so the one who needs care is not missed.

    A few short queries, each a bounded read of an index on PostgreSQL (migration 0021): three letters
    match thousands of customers in a large organization, and ranking them all in one query would read
    every one of them on each keystroke. Names that start with the query are read in name order from
    (organization, care flag, UPPER(name)), stopping at `limit`; exact matches and the rest come from
    trigram indexes, the rest only while fewer than `limit` are found and in no particular order (the
    next keystroke narrows them). SQLite (`make run`) asks the same queries without those indexes."""
    conditions = search_conditions(query)
    if conditions is None:
        return []
    exact, starts, match = conditions
    now = timezone.now()
    customers = visible_customers(user)
    flag_open = care_flag_open_condition(now)
    found = list(customers.filter(exact).alias(flag_open=ExpressionWrapper(flag_open, output_field=BooleanField()))
                 .order_by("-flag_open", "name", "id")[:limit])
    starting = customers.alias(name_key=name_key()).filter(name_key__startswith=query_of(query).upper())
    # Open flags first, then the unflagged, then flags that lapsed: each read in the prefix index's order
    # (it starts with the care flag), and the expiry checked on the flagged rows it reads.
    for among in (flag_open, Q(care_flag=False), Q(care_flag=True) & ~flag_open):
        if len(found) < limit:
            found += starting.filter(among).exclude(pk__in=[c.pk for c in found]).order_by(
                "name_key", "id")[: limit - len(found)]
    if len(found) < limit and match is not starts:
        # No ORDER BY (not even the model's): the read stops at the first rows that match.
        rest = customers.filter(match).exclude(pk__in=[c.pk for c in found]).order_by()[: limit - len(found)]
        found += sorted(rest, key=lambda customer: (not customer.care_flag_open_at(now), customer.name, customer.pk))
    return found


def name_key():
    """UPPER(name) in bytewise order on PostgreSQL, the order of the prefix index of migration 0021 (in
    which a LIKE 'MAR%' is a range); SQLite has no "C" collation and no such index."""
    return Collate(Upper("name"), "C") if connection.vendor == "postgresql" else Upper("name")


def query_of(text):
    # NUL can be typed (or sent) but never stored: PostgreSQL refuses it even in a search.
    return (text or "").replace("\x00", "").strip()


def search_conditions(query):
    """(exact, starts, matches) as conditions on customers for what was typed, or None when it is too
    short to search. Each is what an index of migration 0021 serves: UPPER(name) and UPPER(email), as
    `iexact`, `istartswith` and `icontains` compare them, and the phone as stored."""
    query = query_of(query)
    if len(query) < 2:
        return None
    exact = Q(name__iexact=query) | Q(email__iexact=query)
    starts = Q(name__istartswith=query)
    # Two characters make no trigram inside a word: only names that start with them.
    match = starts if len(query) < 3 else Q(name__icontains=query) | Q(email__icontains=query)
    digits = "".join(ch for ch in query if ch.isdigit())
    if len(digits) >= 3:
        # Numbers are stored in E.164 (+442079460018), digits behind a plus: a whole number typed any
        # way is read as one (incidents.phones), and part of one typed nationally loses its trunk 0
        # ("020 79" finds it).
        match = match | Q(phone__contains=digits.removeprefix("0") if len(digits) > 3 else digits)
        number = parse_phone(query, strict=False)
        if number:
            match |= Q(phone=number)
            exact |= Q(phone=number)
    return exact, starts, match


def incidents_of_customer(user, customer):
    return (
        visible_incidents(user).filter(customer=customer).select_related("location", "owner").order_by("-logged_at")
    )


# --- Incident search ---------------------------------------------------------------------------------

REFERENCE = re.compile(r"^R-?(\d{1,12})$", re.IGNORECASE)
SEARCH_LIMIT = 25  # shown on the page: a phone's screenful or two, as on the home page
SEARCH_CANDIDATES = 100  # ranked on PostgreSQL: the newest that match


def reference_typed(text):
    """The reference a query names, written as pages show it ("r-123" and "R123" are R-000123), or None."""
    found = REFERENCE.match(text)
    if not found:
        return None
    number = int(found.group(1))
    return f"R-{number:06d}" if number < 1_000_000 else f"R-{number}"


def _text_query(words):
    """Every word in PostgreSQL's tsquery syntax, the last one as typed so far (a prefix: "mar" finds
    Maria); the others whole, which the planner estimates well. Each word is quoted (a quote doubled,
    backslashes dropped), so nothing typed is read as an operator; the 'simple' parser splits it as it
    split the document (an email stays one token)."""
    quoted = ["'" + word.replace("\\", "").replace("'", "''") + "'" for word in words]
    quoted[-1] += ":*"
    return SearchQuery(" & ".join(quoted), search_type="raw", config=SEARCH_CONFIG)


def search_incidents(user, query, *, incidents=None):
    """The incidents `user` may see that match what was typed, best first. A reference typed (R-000123,
    r123) is that incident alone, from its index. Words: on PostgreSQL, the newest SEARCH_CANDIDATES
    incidents whose search document holds every word (the GIN index of migration 0022 when the words
    are rare; the (organization, logged_at) index, stopping early, when they are common), ranked by
    SearchRank over their stored tsvector; on SQLite, every word somewhere in the document, newest first.
    Ranking every match would read every one of them: a word in one incident of sixteen is 60,000 at
    a million, and the day's work is in the recent ones. `incidents` narrows the visible ones further;
    who sees what is visible_incidents' rule, as on every other read. The API keeps its own order and
    uses `search_condition`; an empty query matches nothing."""
    condition = search_condition(query)
    visible = visible_incidents(user, ids_first=True)
    visible = visible if incidents is None else incidents & visible
    if condition is None:
        return visible.none()
    found = visible.filter(condition)
    if connection.vendor != "postgresql" or reference_typed(query_of(query)):
        return found.order_by("-logged_at", "-pk")
    newest = found.order_by("-logged_at", "-pk").values("pk")[:SEARCH_CANDIDATES]
    return (Incident.objects.filter(pk__in=newest)
            .annotate(rank=SearchRank(F("search_vector"), _text_query(search_words(query))))
            .order_by("-rank", "-logged_at", "-pk"))


# A word: letters and digits, with the marks that hold an email, a name or a number together inside it.
WORD = re.compile(r"\w[\w@.'+-]*")


def search_words(query):
    """The words typed, at most ten: punctuation between them ("(", "|", "&", ":") only separates them."""
    return [word.rstrip(".'+-@") for word in WORD.findall(query_of(query))][:10]


def search_condition(query):
    """What was typed as a condition on incidents (None: nothing to search for): the incident of a
    reference typed, or every word (each the start of a word on PostgreSQL) in the search document."""
    reference = reference_typed(query_of(query))
    if reference:
        return Q(reference=reference)
    words = search_words(query)
    if not words:
        return None
    if connection.vendor == "postgresql":
        return Q(search_vector=_text_query(words))
    every_word = Q()
    for word in words:
        every_word &= Q(search_document__icontains=word)
    return every_word
