"""Trends: when and where failures happen (the heatmap), what they share (breakdowns), and the
incidents behind any cell or bar."""

import datetime
import zoneinfo
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.utils.translation import gettext, gettext_lazy

from .. import rollups
from ..scope import filter_incidents, logged_in


EARLIEST_OCCURRED_AT = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)


def local_cells(scope, incidents):
    """{(location id, ISO weekday, hour): count} of when the failures happened (`occurred_at`, not when
    they were logged: one logged at the end of a shift counts at its hour), in each location's own time
    zone: one GROUP BY per time zone among the scope's locations (usually one), whatever the number of
    incidents."""
    cells = {}
    for zone_name, location_ids in scope.by_timezone().items():
        zone = zoneinfo.ZoneInfo(zone_name)
        grouped = (
            # A moment no door accepts (before 2000, stored by hand) is left out rather than break the local
            # weekday and hour: west of UTC, year 1 would be year 0, which the calendar does not have.
            incidents.filter(location_id__in=location_ids, occurred_at__gte=EARLIEST_OCCURRED_AT)
            .annotate(weekday=ExtractIsoWeekDay("occurred_at", tzinfo=zone), hour=ExtractHour("occurred_at", tzinfo=zone))
            .values("location_id", "weekday", "hour")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in grouped:
            cells[(row["location_id"], row["weekday"], row["hour"])] = row["n"]
    return cells


def heatmap(cells):
    """Sum the per-location cells into the weekday × hour grid the page draws (7 × 24 numbers)."""
    grid = {(weekday, hour): 0 for weekday in range(1, 8) for hour in range(24)}
    for (_, weekday, hour), n in cells.items():
        grid[(weekday, hour)] += n
    return grid


BREAKDOWNS = {
    # name: (title, group-by field, label field, filter key for the drill-down link)
    "location": (gettext_lazy("By location"), "location_id", "location__name", "location"),
    "region": (gettext_lazy("By region"), "location__region", "location__region", "region"),
    "category": (gettext_lazy("By category / product"), "category_id", "category__name", "category"),
    "staff": (gettext_lazy("By staff member on the spot"), "logged_by_id", None, "logged_by"),
    "busyness": (gettext_lazy("By how busy it was"), "busyness", None, "busyness"),
    "channel": (gettext_lazy("By channel"), "channel", None, "channel"),
}


@dataclass
class TrendCounts:
    """Every count the trends page draws, from grouped rows: heatmap cells per location, the breakdowns,
    who owned how many, and the region × category table for the product clusters."""

    cells: dict
    breakdowns: dict
    handled: dict
    region_category: dict


# The breakdowns and the column each is grouped by (region comes from the location rows).
TREND_COLUMNS = {"location": "location_id", "category": "category_id", "staff": "logged_by_id",
                 "busyness": "busyness", "channel": "channel"}


def trend_counts(scope, incidents):
    """All the trends' counts: one scan with GROUPING SETS on PostgreSQL (each location's time zone
    applied per row), one GROUP BY per breakdown elsewhere. Either way the number of queries is fixed."""
    if connection.vendor == "postgresql":
        grouped = _grouping_sets(incidents)
    else:
        grouped = _group_by_each(scope, incidents)
    return _trend_counts(scope, grouped)


def period_trends(scope, values, start, end, now):
    """The trends' counts for [start, end) and the filters: from the rollup (cost following the
    locations and days, not the incidents) when it keeps what the filters ask, else `trend_counts`
    over the incidents themselves."""
    grouped = rollups.trend_counts(scope, values, start, end)
    if grouped is None:
        return trend_counts(scope, period_incidents(scope, values, start, end, now))
    return _trend_counts(scope, grouped)


def _trend_counts(scope, grouped):
    region_of = {location.pk: location.region or "(none)" for location in scope.locations}
    regions = {}
    for location_id, n in grouped["location"].items():
        regions[region_of.get(location_id, "(none)")] = regions.get(region_of.get(location_id, "(none)"), 0) + n
    grouped["region"] = regions
    return TrendCounts(cells=grouped.pop("cells"), handled=grouped.pop("owner"),
                       region_category=grouped.pop("region_category"), breakdowns=grouped)


def _group_by_each(scope, incidents):
    grouped = {"cells": local_cells(scope, incidents)}
    for name, column in {**TREND_COLUMNS, "owner": "owner_id"}.items():
        grouped[name] = {row[column]: row["n"] for row in incidents.values(column).annotate(n=Count("id")).order_by()}
    grouped["region_category"] = {
        (row["location__region"] or "(none)", row["category_id"]): row["n"]
        for row in incidents.values("location__region", "category_id").annotate(n=Count("id")).order_by()
    }
    return grouped


_SETS = {
    "cells": ("location_id", "weekday", "hour"),
    "location": ("location_id",), "category": ("category_id",), "staff": ("logged_by_id",),
    "busyness": ("busyness",), "channel": ("channel",), "owner": ("owner_id",),
    "region_category": ("region", "category_id"),
}
_GROUPED = ("location_id", "weekday", "hour", "category_id", "logged_by_id", "busyness", "channel", "owner_id", "region")


def _grouping_sets(incidents):
    """One pass over the period's incidents that yields every breakdown at once."""
    inner_sql, params = incidents.values(
        "location_id", "occurred_at", "category_id", "logged_by_id", "owner_id", "busyness", "channel"
    ).query.sql_with_params()
    sets = ", ".join("(" + ", ".join(columns) + ")" for columns in _SETS.values())
    sql = f"""
        SELECT {", ".join(_GROUPED)}, COUNT(*) AS n, GROUPING({", ".join(_GROUPED)}) AS unused
        FROM (
            SELECT b.location_id, b.category_id, b.logged_by_id, b.owner_id, b.busyness, b.channel,
                   COALESCE(NULLIF(l.region, ''), '(none)') AS region,
                   EXTRACT(ISODOW FROM b.occurred_at AT TIME ZONE l.timezone)::int AS weekday,
                   EXTRACT(HOUR FROM b.occurred_at AT TIME ZONE l.timezone)::int AS hour
            FROM ({inner_sql}) AS b JOIN incidents_location AS l ON l.id = b.location_id
        ) AS x
        GROUP BY GROUPING SETS ({sets})
    """
    # GROUPING(...) has a bit set for every column the row is NOT grouped by (first column = top bit).
    mask_of = {
        sum(1 << (len(_GROUPED) - 1 - i) for i, column in enumerate(_GROUPED) if column not in columns): name
        for name, columns in _SETS.items()
    }
    grouped = {name: {} for name in _SETS}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            values = dict(zip(_GROUPED, row))
            name = mask_of[row[-1]]
            key = tuple(values[column] for column in _SETS[name])
            grouped[name][key if len(key) > 1 else key[0]] = row[-2]
    return grouped


def labelled(counts, labels=None):
    """[(key, label, count)] largest first, for a bar chart."""
    rows = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    return [(key, (labels or {}).get(key, key) if key not in (None, "") else gettext("(none)"), n) for key, n in rows]


def period_incidents(scope, values, start, end, now):
    return filter_incidents(logged_in(scope, start, end), values, scope, now=now)


def incident_list(scope, values, start, end, now):
    """The incidents behind a cell, a cluster or a bar: newest first, for a paginated page."""
    return period_incidents(scope, values, start, end, now).select_related(
        "customer", "location", "owner", "category"
    ).order_by("-logged_at", "-id")
