"""The figures of the managers' console, each computed by the database.

Nothing here loops over incidents in Python: every figure is an aggregate (`GROUP BY`), an ordered-set
aggregate (`percentile_disc` on PostgreSQL) or a window function (the portable percentile fallback), and
the number of queries per page does not depend on the number of incidents. Python only shapes the
grouped rows (a few per location or person) for the templates.
"""

import datetime
import zoneinfo
from dataclasses import dataclass

from django.db import connection
from django.db.models import Case, Count, DecimalField, F, IntegerField, Prefetch, Q, Sum, Value, When, Window
from django.db.models.aggregates import Aggregate
from django.db.models.functions import Coalesce, ExtractHour, ExtractIsoWeekDay

from incidents import clock
from incidents.models import Gesture, Incident, Outcome, late_condition

from .scope import filter_incidents

DAY = datetime.timedelta(days=1)
DURATIONS = ("seconds_to_apology", "seconds_to_follow_up", "seconds_to_fix")
KEPT = (Outcome.CHAMPION, Outcome.RETAINED)


# --- Open recoveries ------------------------------------------------------------------------------


def open_recoveries(scope, values, *, now, limit=50):
    """Open incidents at the scope's locations: late ones first, then the soonest due.

    Served by the partial index `incident_open_by_location` (location, next_due_at WHERE closed_at IS
    NULL). Four queries whatever the size: the ranking (with the counts), the rows, their helpers, their
    pending gestures.
    """
    incidents = filter_incidents(
        Incident.objects.filter(location_id__in=scope.location_ids, closed_at__isnull=True), values, scope, now=now
    )
    # First rank the open incidents by id alone (an index-only scan of incident_open_by_location), then
    # read the few rows shown with their joins: joining every open incident before the sort is what costs.
    # The counts ride along as window aggregates over the same scan (computed before the LIMIT).
    late_rank = Case(When(late_condition(now), then=Value(0)), default=Value(1), output_field=IntegerField())
    ranking = list(
        incidents.annotate(late_rank=late_rank, total=Window(Count("id")), late=Window(Sum(1 - late_rank)))
        .order_by("late_rank", F("next_due_at").asc(nulls_last=True), "logged_at", "pk")
        .values_list("pk", "total", "late")[:limit]
    )
    ranked = [pk for pk, _, _ in ranking]
    counts = {"total": ranking[0][1], "late": ranking[0][2]} if ranking else {"total": 0, "late": 0}
    shown = (
        Incident.objects.filter(pk__in=ranked)
        .select_related("customer", "location", "owner", "category")
        .prefetch_related(
            "helpers",
            Prefetch("gestures", queryset=Gesture.objects.filter(approval=Gesture.Approval.PENDING).order_by("given_at"),
                     to_attr="pending_gestures"),
        )
        .in_bulk()
    )
    rows = [shown[pk] for pk in ranked]
    for incident in rows:
        incident.clock = clock_of(incident, now)
    return rows, counts


def staff_by_location(staff):
    """{location id: people who can take over or help there}: the staff of that location and every
    manager and admin, from one query over the staff's locations. Keeps each row's pickers short."""
    from incidents.models import User

    links = User.locations.through.objects.filter(user_id__in=[person.pk for person in staff])
    at = {}
    for user_id, location_id in links.values_list("user_id", "location_id"):
        at.setdefault(location_id, set()).add(user_id)
    managers = {person.pk for person in staff if person.is_manager}
    by_location = {}
    for location_id, user_ids in at.items():
        by_location[location_id] = [person for person in staff if person.pk in user_ids or person.pk in managers]
    return by_location, [person for person in staff if person.pk in managers]


@dataclass(frozen=True)
class RowClock:
    state: str  # "late" (window passed, nothing done), "running", "met", "missed" (answered after the window)
    label: str
    next_label: str = ""


def clock_of(incident, now):
    """The twenty-minute clock of one row, and when anything is next due, read from its own columns."""
    next_label = ""
    if incident.next_due_at is not None:
        if incident.next_due_at > now:
            next_label = f"next due in {_duration(incident.next_due_at - now)}"
        else:
            next_label = f"next step overdue by {_duration(now - incident.next_due_at)}"
    state = incident.window_state(now)
    if state in (clock.MET, clock.MISSED):
        minutes = _minutes(incident.responded_at - incident.logged_at)
        return RowClock(state, f"Answered after {minutes} min" + (" (late)" if state == clock.MISSED else ""),
                        next_label)
    if state == clock.LATE:
        return RowClock(state, f"Late by {_duration(now - incident.follow_up_due_at)}", next_label)
    return RowClock(state, f"{_duration(incident.follow_up_due_at - now)} left", next_label)


def _minutes(delta):
    return max(int(delta.total_seconds() // 60), 0)


def _duration(delta):
    minutes = _minutes(delta)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 60 * 48:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes // (60 * 24)} days"


# --- Scorecard ---------------------------------------------------------------------------------------


class PercentileDisc(Aggregate):
    """PostgreSQL's nearest-rank percentile: the first value whose cumulative share reaches `fraction`."""

    function = "percentile_disc"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = IntegerField()

    def __init__(self, expression, fraction, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


GROUPS = {
    "location": {"key": "location_id", "label": "location__name"},
    "staff": {"key": "owner_id", "label": None},
}


def _base(scope, start, end):
    return Incident.objects.filter(location_id__in=scope.location_ids, logged_at__gte=start, logged_at__lt=end)


def _aggregates(now):
    """Every count and sum of the scorecard, as named aggregates over incidents logged in the period."""
    return {
        "logged": Count("id"),
        # The twenty-minute rule is judged only once it is decided: answered, or its window has passed.
        "rule_decided": Count("id", filter=Q(responded_at__isnull=False) | Q(follow_up_due_at__lte=now)),
        "rule_met": Count("id", filter=Q(responded_at__lte=F("follow_up_due_at"))),
        "open_over_day": Count(
            "id",
            filter=Q(closed_at__isnull=True, logged_at__lt=now - DAY) | Q(closed_at__gt=F("logged_at") + DAY),
        ),
        "fixed": Count("id", filter=Q(fixed_at__isnull=False)),
        "wrapped_up": Count("id", filter=Q(fixed_at__isnull=False, wrapped_up_at__isnull=False)),
        **{outcome: Count("id", filter=Q(outcome=outcome)) for outcome in Outcome.values},
        "value_kept": Coalesce(
            Sum("customer__lifetime_value", filter=Q(outcome__in=KEPT)), Value(0), output_field=DecimalField()
        ),
        # Kept on the incident by the services as gestures are given or approved (organization currency).
        "gestures": Coalesce(Sum("gesture_count"), Value(0)),
        "gesture_cost": Coalesce(Sum("gesture_cost"), Value(0), output_field=DecimalField()),
    }


def _percentile_aggregates():
    return {
        f"{name}_{label}": PercentileDisc(name, fraction)
        for name in DURATIONS
        for label, fraction in (("p50", 0.5), ("p90", 0.9))
    }


def _percentiles_by_window(incidents, key):
    """The same nearest-rank percentiles, portably: rank each duration within its group with window
    functions and keep the value at rank ceil(n × p). One query for the three durations."""
    values = incidents.annotate(g=key, **{f"v{i}": F(name) for i, name in enumerate(DURATIONS)}).values(
        "g", *[f"v{i}" for i in range(len(DURATIONS))]
    )
    inner_sql, params = values.query.sql_with_params()
    ranks, picks = [], []
    for i, name in enumerate(DURATIONS):
        ranks.append(f"ROW_NUMBER() OVER (PARTITION BY g ORDER BY (v{i} IS NULL), v{i}) AS r{i}, "
                     f"COUNT(v{i}) OVER (PARTITION BY g) AS n{i}")
        for label, percent in (("p50", 50), ("p90", 90)):
            # ceil(n × p / 100) in integer arithmetic, the same rank percentile_disc picks.
            picks.append(f"MAX(CASE WHEN v{i} IS NOT NULL AND r{i} = (n{i} * {percent} + 99) / 100 THEN v{i} END) "
                         f"AS {name}_{label}")
    sql = (f"SELECT g, {', '.join(picks)} FROM (SELECT g, {', '.join(f'v{i}' for i in range(len(DURATIONS)))}, "
           f"{', '.join(ranks)} FROM ({inner_sql}) AS base) AS ranked GROUP BY g")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column[0] for column in cursor.description]
        return {row[0]: dict(zip(columns[1:], row[1:])) for row in cursor.fetchall()}


def _figures(scope, start, end, group, now):
    """{group key: figures} for incidents logged in [start, end); group None gives one row, key None."""
    incidents = _base(scope, start, end)
    postgres = connection.vendor == "postgresql"
    aggregates = _aggregates(now) | (_percentile_aggregates() if postgres else {})
    if group is None:
        rows = {None: incidents.aggregate(**aggregates)}
        key = Value(0)
    else:
        key = F(GROUPS[group]["key"])
        rows = {row.pop("g"): row for row in incidents.annotate(g=key).values("g").annotate(**aggregates).order_by()}
    if not postgres:
        for g, percentiles in _percentiles_by_window(incidents, key).items():
            rows.get(None if group is None else g, {}).update(percentiles)
    return {g: _derived(row) for g, row in rows.items()}


def _derived(row):
    """Rates from the counts, None where there is nothing to divide by (shown as “–”)."""
    row.setdefault("gestures", 0)
    row.setdefault("gesture_cost", 0)
    row["gestures"] = row["gestures"] or 0
    for name in DURATIONS:
        row.setdefault(f"{name}_p50", None)
        row.setdefault(f"{name}_p90", None)
    outcomes = sum(row[outcome] for outcome in Outcome.values)
    row["outcomes"] = outcomes
    row["rule_rate"] = _rate(row["rule_met"], row["rule_decided"])
    row["wrap_up_rate"] = _rate(row["wrapped_up"], row["fixed"])
    row["champion_rate"] = _rate(row[Outcome.CHAMPION], outcomes)
    return row


def _rate(part, whole):
    return None if not whole else round(100.0 * part / whole, 1)


def _figures_in_one_pass(scope, start, end, group, now):
    """PostgreSQL: both periods, every group and the totals from one scan, with GROUPING SETS over
    (period, group) and (period). Returns None if the query does not have the expected shape."""
    incidents = _base(scope, start - (end - start), end)
    period = Case(When(logged_at__gte=start, then=Value(1)), default=Value(0), output_field=IntegerField())
    grouped = (
        incidents.annotate(period=period, g=F(GROUPS[group]["key"])).values("period", "g")
        .annotate(**_aggregates(now), **_percentile_aggregates()).order_by()
    )
    sql, params = grouped.query.sql_with_params()
    if not sql.endswith("GROUP BY 1, 2"):
        return None
    sql = sql[: -len("GROUP BY 1, 2")] + "GROUP BY GROUPING SETS ((1, 2), (1))"
    current, before, totals = {}, {}, {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column[0] for column in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(columns, values))
            in_current, key = row.pop("period") == 1, row.pop("g")
            if key is None:  # the (period) grouping set: the totals (no incident lacks a location or owner)
                totals[in_current] = row
            else:
                (current if in_current else before)[key] = row
    empty = {name: 0 for name in ("logged", "rule_decided", "rule_met", "open_over_day", "fixed", "wrapped_up",
                                  "value_kept", "gestures", "gesture_cost", *Outcome.values)}
    total = ScoreRow(None, "All", _derived(totals.get(True, dict(empty))), _derived(totals.get(False, dict(empty))))
    return ({key: _derived(row) for key, row in current.items()},
            {key: _derived(row) for key, row in before.items()}, total)


@dataclass
class ScoreRow:
    key: object
    label: str
    current: dict
    previous: dict


def scorecard(scope, start, end, *, group="location", now, staff=()):
    """The scorecard for [start, end) beside the period just before, per location or per staff member,
    with a total row. One query on PostgreSQL (both periods, groups and totals in one pass); four per
    period on SQLite."""
    previous_start, previous_end = start - (end - start), start
    one_pass = _figures_in_one_pass(scope, start, end, group, now) if connection.vendor == "postgresql" else None
    if one_pass:
        current, before, total = one_pass
    else:
        current = _figures(scope, start, end, group, now)
        before = _figures(scope, previous_start, previous_end, group, now)
        total = ScoreRow(None, "All", _figures(scope, start, end, None, now)[None],
                         _figures(scope, previous_start, previous_end, None, now)[None])
    if group == "location":
        labels = {location.pk: location.name for location in scope.locations}
    else:
        labels = {person.pk: person.display_name() for person in staff}
    empty = _derived({"logged": 0, "rule_decided": 0, "rule_met": 0, "open_over_day": 0, "fixed": 0, "wrapped_up": 0,
                      "value_kept": 0, **{outcome: 0 for outcome in Outcome.values}})
    keys = set(current) | set(before)
    if group == "location":
        keys |= set(scope.location_ids)
    rows = [ScoreRow(key, labels.get(key, f"#{key}"), current.get(key, dict(empty)), before.get(key, dict(empty)))
            for key in keys]
    return rows, total


SORTABLE = {
    "label": lambda row: row.label.lower(),
    **{name: (lambda name: lambda row: row.current.get(name))(name) for name in (
        "logged", "rule_rate", "seconds_to_apology_p50", "seconds_to_apology_p90", "seconds_to_follow_up_p50",
        "seconds_to_follow_up_p90", "seconds_to_fix_p50", "seconds_to_fix_p90", "open_over_day", "wrap_up_rate",
        "champion", "champion_rate", "retained", "partial", "lost", "gestures", "gesture_cost", "value_kept")},
}


def sort_rows(rows, column, descending):
    """Sort the few grouped rows; a missing figure (“–”) always goes last."""
    key = SORTABLE.get(column, SORTABLE["label"])
    present = [row for row in rows if key(row) is not None]
    missing = [row for row in rows if key(row) is None]
    return sorted(present, key=key, reverse=descending) + missing


# --- Trends: heatmap and breakdowns --------------------------------------------------------------------


def local_cells(scope, incidents):
    """{(location id, ISO weekday, hour): count} in each location's own time zone: one GROUP BY per
    time zone among the scope's locations (usually one), whatever the number of incidents."""
    cells = {}
    for zone_name, location_ids in scope.by_timezone().items():
        zone = zoneinfo.ZoneInfo(zone_name)
        grouped = (
            incidents.filter(location_id__in=location_ids)
            .annotate(weekday=ExtractIsoWeekDay("logged_at", tzinfo=zone), hour=ExtractHour("logged_at", tzinfo=zone))
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
    "location": ("By location", "location_id", "location__name", "location"),
    "region": ("By region", "location__region", "location__region", "region"),
    "category": ("By category / product", "category_id", "category__name", "category"),
    "staff": ("By staff member on the spot", "logged_by_id", None, "logged_by"),
    "busyness": ("By how busy it was", "busyness", None, "busyness"),
    "channel": ("By channel", "channel", None, "channel"),
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
        "location_id", "logged_at", "category_id", "logged_by_id", "owner_id", "busyness", "channel"
    ).query.sql_with_params()
    sets = ", ".join("(" + ", ".join(columns) + ")" for columns in _SETS.values())
    sql = f"""
        SELECT {", ".join(_GROUPED)}, COUNT(*) AS n, GROUPING({", ".join(_GROUPED)}) AS unused
        FROM (
            SELECT b.location_id, b.category_id, b.logged_by_id, b.owner_id, b.busyness, b.channel,
                   COALESCE(NULLIF(l.region, ''), '(none)') AS region,
                   EXTRACT(ISODOW FROM b.logged_at AT TIME ZONE l.timezone)::int AS weekday,
                   EXTRACT(HOUR FROM b.logged_at AT TIME ZONE l.timezone)::int AS hour
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
    return [(key, (labels or {}).get(key, key) if key not in (None, "") else "(none)", n) for key, n in rows]


def period_incidents(scope, values, start, end, now):
    return filter_incidents(_base(scope, start, end), values, scope, now=now)


def incident_list(scope, values, start, end, now):
    """The incidents behind a cell, a cluster or a bar: newest first, for a paginated page."""
    return period_incidents(scope, values, start, end, now).select_related(
        "customer", "location", "owner", "category"
    ).order_by("-logged_at", "-id")
