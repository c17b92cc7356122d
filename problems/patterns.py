"""A problem's pattern: which incidents belong to it, in the trends page's own terms.

The same filters the trends page and its clusters link with (location, region, category, busyness,
channel, the staff member on the spot, an ISO weekday and hours of the day in the incident's location's
time zone), so a cluster's link becomes a pattern unchanged. Two readings of one pattern:
`incidents_matching` (a queryset, for counts, the chart and the verdict) and `matches_new_incident`
(a condition on problem rows, so a new incident is matched against every open problem in one query).
"""

from dataclasses import dataclass, fields

from django.db.models import Q
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.utils.translation import gettext

from incidents.calendar import zone_named
from incidents.models import Busyness, Channel, Incident
from insights.clusters import WEEKDAYS
from insights.scope import NO_REGION

PATTERN_FIELDS = ("location_id", "region", "category_id", "busyness", "channel", "logged_by_id", "weekday",
                  "hour_from", "hour_to")


@dataclass(frozen=True)
class Pattern:
    location_id: int | None = None
    region: str = ""
    category_id: int | None = None
    busyness: str = ""
    channel: str = ""
    logged_by_id: int | None = None
    weekday: int | None = None
    hour_from: int | None = None
    hour_to: int | None = None  # exclusive; 24 is the end of the day

    @classmethod
    def of(cls, problem):
        return cls(**{name: getattr(problem, name) for name in PATTERN_FIELDS})

    @classmethod
    def from_filters(cls, values):
        """The pattern of the trends page's filters (a cluster's link or a filtered incident list):
        {"location", "region", "category", "busyness", "channel", "logged_by", "weekday", "hour"}."""
        hour = values.get("hour")
        region = values.get("region") or ""
        return cls(
            location_id=values.get("location"), region="" if region == NO_REGION else region,
            category_id=values.get("category"), busyness=values.get("busyness") or "",
            channel=values.get("channel") or "", logged_by_id=values.get("logged_by"),
            weekday=values.get("weekday"),
            hour_from=hour, hour_to=None if hour is None else hour + 1,
        )

    def as_fields(self):
        return {field.name: getattr(self, field.name) for field in fields(self)}

    @property
    def is_empty(self):
        return all(value in (None, "") for value in self.as_fields().values())

    def errors(self):
        """Field errors of a pattern that cannot be right, e.g. hours the wrong way round."""
        errors = {}
        if self.weekday is not None and not 1 <= self.weekday <= 7:
            errors["weekday"] = ["An ISO weekday: 1 (Monday) to 7 (Sunday)."]
        if (self.hour_from is None) != (self.hour_to is None):
            errors["hour_to" if self.hour_to is None else "hour_from"] = [gettext("Give both hours, or neither.")]
        elif self.hour_from is not None:
            if not (0 <= self.hour_from <= 23 and 1 <= self.hour_to <= 24):
                errors["hour_from"] = [gettext("Hours of the day: from 0–23, to 1–24.")]
            elif self.hour_to <= self.hour_from:
                errors["hour_to"] = [gettext("The window ends after it starts (e.g. 15 to 16).")]
        if self.busyness and self.busyness not in Busyness.values:
            errors["busyness"] = [gettext("Unknown busyness.")]
        if self.channel and self.channel not in Channel.values:
            errors["channel"] = [gettext("Unknown channel.")]
        return errors

    def describe(self, names=None):
        """The pattern in words, e.g. "Wed 15:00–16:00 at Riverside"; `names` maps
        {"location": {id: name}, "category": {...}, "logged_by": {...}} when the caller has them."""
        names = names or {}
        parts = []
        if self.category_id is not None:
            parts.append(names.get("category", {}).get(self.category_id, f"category {self.category_id}"))
        if self.weekday is not None or self.hour_from is not None:
            when = str(WEEKDAYS[self.weekday - 1]) if self.weekday is not None else gettext("Every day")
            if self.hour_from is not None:
                when += f" {self.hour_from:02d}:00–{self.hour_to % 24:02d}:00"
            parts.append(when)
        if self.location_id is not None:
            place = names.get("location", {}).get(self.location_id, f"#{self.location_id}")
            parts.append(gettext("at %(location)s") % {"location": place})
        if self.region:
            parts.append(gettext("in the %(region)s region") % {"region": self.region})
        if self.busyness:
            parts.append(gettext("when %(busyness)s") % {"busyness": str(Busyness(self.busyness).label).lower()})
        if self.channel:
            parts.append(gettext("by %(channel)s") % {"channel": str(Channel(self.channel).label).lower()})
        if self.logged_by_id is not None:
            person = names.get("logged_by", {}).get(self.logged_by_id, f"#{self.logged_by_id}")
            parts.append(gettext("logged by %(person)s") % {"person": person})
        return " ".join(parts) if parts else gettext("No pattern (incidents are linked by hand)")


def incidents_matching(pattern, organization, locations):
    """The incidents of `organization` at `locations` (Location rows) that fit the pattern; the database
    converts each location's local weekday and hour, nothing is read into Python."""
    incidents = Incident.objects.filter(organization=organization)
    if pattern.is_empty:
        return incidents.none()
    simple = {"location_id": pattern.location_id, "category_id": pattern.category_id, "busyness": pattern.busyness,
              "channel": pattern.channel, "logged_by_id": pattern.logged_by_id, "location__region": pattern.region}
    incidents = incidents.filter(**{key: value for key, value in simple.items() if value not in (None, "")})
    if pattern.weekday is None and pattern.hour_from is None:
        return incidents
    zones = {}
    for location in locations:
        if pattern.location_id is None or location.pk == pattern.location_id:
            zones.setdefault(location.timezone, []).append(location.pk)
    condition = Q(pk__in=[])
    for number, (zone_name, location_ids) in enumerate(zones.items()):
        zone = zone_named(zone_name)
        lookups = {"location_id__in": location_ids}
        if pattern.weekday is not None:
            incidents = incidents.annotate(**{f"weekday_{number}": ExtractIsoWeekDay("occurred_at", tzinfo=zone)})
            lookups[f"weekday_{number}"] = pattern.weekday
        if pattern.hour_from is not None:
            incidents = incidents.annotate(**{f"hour_{number}": ExtractHour("occurred_at", tzinfo=zone)})
            lookups[f"hour_{number}__gte"] = pattern.hour_from
            lookups[f"hour_{number}__lt"] = pattern.hour_to
        condition |= Q(**lookups)
    return incidents.filter(condition)


def matches_new_incident(incident):
    """A condition on Problem rows: the problems whose pattern this incident fits (every field of the
    pattern either empty or equal to the incident's). The incident's local weekday and hour come from
    its location's time zone, here in Python, so the database compares plain numbers."""
    # When it happened, as the trends' heatmap (and so a busy-hour problem found there) counts it.
    local = incident.occurred_at.astimezone(incident.location.zone)
    weekday, hour = local.isoweekday(), local.hour

    def any_or(field, value):
        empty = Q(**{f"{field}__isnull": True}) if field.endswith("_id") or field in ("weekday",) else Q(**{field: ""})
        return empty | Q(**{field: value}) if value not in (None, "") else empty

    return (
        any_or("location_id", incident.location_id)
        & any_or("region", incident.location.region)
        & any_or("category_id", incident.category_id)
        & any_or("busyness", incident.busyness)
        & any_or("channel", incident.channel)
        & any_or("logged_by_id", incident.logged_by_id)
        & any_or("weekday", weekday)
        & (Q(hour_from__isnull=True) | Q(hour_from__lte=hour, hour_to__gt=hour))
    )
