"""Business calendars: a location's week, exceptions and public holidays read into `incidents.calendar`."""

import functools

import holidays

from .. import calendar
from ..models import CalendarException, WeeklySpan


@functools.lru_cache(maxsize=128)
def public_holidays(country, subdivision=""):
    """The public holidays of a country (and region) from the `holidays` package, years filled in as
    asked; an empty set for no country, or a code the package no longer knows."""
    if not country:
        return frozenset()
    try:
        return holidays.country_holidays(country, subdiv=subdivision or None)
    except NotImplementedError:
        return frozenset()


def build_calendar(location, spans, exceptions):
    """The calendar of `location` from its WeeklySpan and CalendarException rows. A location with no span
    at all (made by a script, say) keeps the one daily window it had before the weekly schedule."""
    week = [[] for _ in calendar.WEEKDAYS]
    for span in spans:
        week[span.weekday].append(calendar.Span(span.opens, span.closes))
    if not spans:
        week = [[calendar.Span(location.opens_at, location.closes_at)] for _ in calendar.WEEKDAYS]
    dated = {}
    for exception in exceptions:
        day = dated.setdefault(exception.date, [])
        if exception.opens is not None:
            day.append(calendar.Span(exception.opens, exception.closes))
    return calendar.BusinessCalendar(
        timezone=location.timezone,
        week=tuple(tuple(sorted(day, key=lambda span: span.opens)) for day in week),
        exceptions={day: tuple(spans) for day, spans in dated.items()},
        holidays=public_holidays(location.holiday_country, location.holiday_subdivision),
    )


def calendar_for(location):
    """The business calendar of one location, read once per location object (attach_calendars reads many)."""
    cached = location.__dict__.get("_business_calendar")
    if cached is None:
        cached = build_calendar(location, list(location.weekly_spans.all()), list(location.calendar_exceptions.all()))
        location._business_calendar = cached
    return cached


def attach_calendars(locations):
    """Read the calendars of many locations in two queries and keep each on its location object (several
    objects of one location share it): a sweep's batch or a page of incidents asks no more per row."""
    locations = [location for location in locations if "_business_calendar" not in location.__dict__]
    ids = {location.pk for location in locations}
    if not ids:
        return
    spans, exceptions = {}, {}
    for span in WeeklySpan.objects.filter(location_id__in=ids):
        spans.setdefault(span.location_id, []).append(span)
    for exception in CalendarException.objects.filter(location_id__in=ids):
        exceptions.setdefault(exception.location_id, []).append(exception)
    built = {}
    for location in locations:
        if location.pk not in built:
            built[location.pk] = build_calendar(location, spans.get(location.pk, []), exceptions.get(location.pk, []))
        location._business_calendar = built[location.pk]


def forget_calendar(location):
    """After the calendar's rows change: the next read builds it again."""
    location.__dict__.pop("_business_calendar", None)
