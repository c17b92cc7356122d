"""Reads worth naming: who may see which incidents, and the lists pages and the API show."""

from django.db.models import Case, F, Q, Value, When

from .models import Customer, EventKind, Incident, Location, User
from .phones import parse_phone


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


def visible_incidents(user):
    """Incidents at the user's locations, plus any they own or help on elsewhere."""
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
    return incidents.filter(Q(location__in=visible_locations(user)) | Q(owner=user) | Q(pk__in=helping))


def visible_customers(user):
    if not user.is_authenticated:
        return Customer.objects.none()
    if user.is_superuser and user.organization_id is None:
        return Customer.objects.all()
    return Customer.objects.filter(organization_id=user.organization_id)


def open_incidents_for(user):
    """The user's own open recoveries (owned or helping on), most urgent first: the nearest due moment leads.

    The cost follows the person's own rows, not the organization's open incidents: the ids are the UNION
    of the open incidents they own (index incident_owner_open: owner, closed_at) and those they help on
    (the helpers table's index on the user), and only those rows are read, sorted and counted.
    """
    owned = Incident.objects.filter(owner=user, closed_at__isnull=True).order_by().values("pk")
    helping = Incident.helpers.through.objects.filter(user=user).values("incident_id")
    return (
        Incident.objects.filter(pk__in=owned.union(helping), closed_at__isnull=True)
        .select_related("customer", "location", "category")
        .order_by(F("next_due_at").asc(nulls_last=True), "logged_at", "pk")
    )


# Entries the timeline is append-only about but shows nobody: incidents logged from the page before the
# form's token moved onto the incident (migration 0011) carry it in one of these.
HIDDEN_EVENT_KINDS = [EventKind.LOGGED_FROM_PAGE]


def timeline(incident):
    return incident.events.exclude(kind__in=HIDDEN_EVENT_KINDS).select_related("actor").order_by("at", "id")


def search_customers(user, query, *, limit=8):
    """Customers of the user's organization whose name, email or phone contains `query`, as typed into
    the Log a failure form. Exact matches first, then those that start with it, then the rest; within
    each, flagged customers first, so the one who needs care is not missed.

    On PostgreSQL each condition is served by a trigram index (migration 0021): UPPER(name) and
    UPPER(email), which is what `icontains` compares, and the phone as stored. SQLite (`make run`) asks
    the same query without them."""
    # NUL can be typed (or sent) but never stored: PostgreSQL refuses it even in a search.
    query = (query or "").replace("\x00", "").strip()
    if len(query) < 2:
        return Customer.objects.none()
    starts = Q(name__istartswith=query) | Q(email__istartswith=query)
    exact = Q(name__iexact=query) | Q(email__iexact=query)
    # Two characters make no trigram inside a word, but do at its start: only names and emails that
    # start with them, which the same indexes find.
    match = starts if len(query) < 3 else Q(name__icontains=query) | Q(email__icontains=query)
    digits = "".join(ch for ch in query if ch.isdigit())
    if len(digits) >= 3:
        # Numbers are stored in E.164 (+442079460018), digits behind a plus: a whole number typed any
        # way is read as one (incidents.phones), and part of one typed nationally loses its trunk 0
        # ("020 79" finds it).
        match |= Q(phone__contains=digits.removeprefix("0") if len(digits) > 3 else digits)
        number = parse_phone(query, strict=False)
        if number:
            match |= Q(phone=number)
            exact |= Q(phone=number)
    rank = Case(When(exact, then=Value(2)), When(starts, then=Value(1)), default=Value(0))
    return (
        visible_customers(user).filter(match).alias(rank=rank)
        .order_by("-rank", "-care_flag", "name", "id")[:limit]
    )


def incidents_of_customer(user, customer):
    return (
        visible_incidents(user).filter(customer=customer).select_related("location", "owner").order_by("-logged_at")
    )
