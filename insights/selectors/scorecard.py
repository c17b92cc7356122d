"""The scorecard: each location's or person's figures for a period, beside the period before.

Champions are counted twice: as staff judged them (`Incident.outcome`) and as customers confirmed them
(`Incident.customer_outcome`, from the satisfaction check's answer, mapped in `outreach.survey`), with
the checks' response rate and the gap between the two judgments. All from the same GROUP BY."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Case, Count, DecimalField, Exists, F, IntegerField, OuterRef, Q, Sum, Value, When
from django.db.models.aggregates import Aggregate
from django.db.models.functions import Coalesce

from incidents.models import KEPT, Outcome
from outreach.models import Message

from .. import rollups
from ..scope import logged_in

DAY = datetime.timedelta(days=1)
CENT = Decimal("0.01")
DURATIONS = ("seconds_to_apology", "seconds_to_follow_up", "seconds_to_fix")
# Outcomes from best to worst: staff "rosier" than the customer ticked one further up this list.
RANKED = (Outcome.CHAMPION, Outcome.RETAINED, Outcome.PARTIAL, Outcome.LOST)


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
        # "value_kept" is not a sum over incidents (a customer kept twice counts once): see `value_kept`.
        # Kept on the incident by the services as gestures are given or approved (organization currency).
        "gestures": Coalesce(Sum("gesture_count"), Value(0)),
        "gesture_cost": Coalesce(Sum("gesture_cost"), Value(0), output_field=DecimalField()),
        **_customer_aggregates(),
    }


def _customer_aggregates():
    """What customers said (outreach's satisfaction check) beside what staff recorded. The check's
    message is asked for with EXISTS per incident (through the message's incident index), so the other
    figures are not multiplied by a join."""
    check_sent = Exists(Message.objects.filter(incident=OuterRef("pk"), kind=Message.Kind.SATISFACTION_CHECK,
                                               sent_at__isnull=False))
    answered, judged = ~Q(customer_outcome=""), ~Q(outcome="")
    rosier = Q(pk__in=[])
    for i, staff_said in enumerate(RANKED[:-1]):
        rosier |= Q(outcome=staff_said, customer_outcome__in=RANKED[i + 1:])
    return {
        "checks_sent": Count("id", filter=Q(check_sent)),
        "answered": Count("id", filter=answered),
        **{f"customer_{outcome}": Count("id", filter=Q(customer_outcome=outcome)) for outcome in Outcome.values},
        # The gap: of the incidents both staff and the customer judged, how many disagree, and how many
        # of those staff judged better than the customer did.
        "both_judged": Count("id", filter=answered & judged),
        "disagreed": Count("id", filter=answered & judged & ~Q(outcome=F("customer_outcome"))),
        "staff_rosier": Count("id", filter=rosier),
    }


CUSTOMER_COUNTS = ("checks_sent", "answered", *(f"customer_{outcome}" for outcome in Outcome.values), "both_judged",
                   "disagreed", "staff_rosier")


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
    incidents = logged_in(scope, start, end)
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
        # At the resolution the page shows (the rollup keeps no finer), whichever path computed them.
        row[f"{name}_p50"] = rollups.shown_seconds(row.get(f"{name}_p50"))
        row[f"{name}_p90"] = rollups.shown_seconds(row.get(f"{name}_p90"))
    outcomes = sum(row[outcome] for outcome in Outcome.values)
    row["outcomes"] = outcomes
    row["rule_rate"] = _rate(row["rule_met"], row["rule_decided"])
    row["wrap_up_rate"] = _rate(row["wrapped_up"], row["fixed"])
    row["champion_rate"] = _rate(row[Outcome.CHAMPION], outcomes)
    for name in CUSTOMER_COUNTS:
        row[name] = row.get(name) or 0
    row["response_rate"] = _rate(row["answered"], row["checks_sent"])
    row["customer_champion_rate"] = _rate(row["customer_champion"], row["answered"])
    row["disagreement_rate"] = _rate(row["disagreed"], row["both_judged"])
    return row


def _rate(part, whole):
    return None if not whole else round(100.0 * part / whole, 1)


def _figures_in_one_pass(scope, start, end, group, now):
    """PostgreSQL: both periods, every group and the totals from one scan, with GROUPING SETS over
    (period, group) and (period). Returns None if the query does not have the expected shape."""
    incidents = logged_in(scope, start - (end - start), end)
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
                                  "value_kept", "gestures", "gesture_cost", *Outcome.values, *CUSTOMER_COUNTS)}
    total = ScoreRow(None, "All", _derived(totals.get(True, dict(empty))), _derived(totals.get(False, dict(empty))))
    return ({key: _derived(row) for key, row in current.items()},
            {key: _derived(row) for key, row in before.items()}, total)


def value_kept(scope, start, end, group):
    """Lifetime value kept in [start, end) and in the period before: each customer whose recovery ended
    champion or retained counts their lifetime value once in the period, however many of their recoveries
    were kept in it; once in each group (location, owner) they were kept in, and once in the total.

    ({group key: value}, {group key: value}, total, total before). One query whatever the period's length:
    the distinct (period, group, customer) of the kept incidents, summed per group and, deduplicated again
    across groups, per period. The rollup keeps tallies per day and cannot know that Monday's customer is
    Friday's, so the scorecard takes this one figure from the incidents on both of its paths."""
    previous_start = start - (end - start)
    period = Case(When(logged_at__gte=start, then=Value(1)), default=Value(0), output_field=IntegerField())
    kept = (
        logged_in(scope, previous_start, end).filter(outcome__in=KEPT, customer__lifetime_value__isnull=False)
        .annotate(period=period, g=F(GROUPS[group]["key"]), c=F("customer_id"), v=F("customer__lifetime_value"))
        .values("period", "g", "c", "v").distinct().order_by()
    )
    inner_sql, params = kept.query.sql_with_params()
    # The kept rows read once (a CTE named twice is computed once), summed per group and per customer.
    sql = (f"WITH kept AS ({inner_sql}) SELECT period, g, SUM(v) FROM kept GROUP BY period, g "
           f"UNION ALL SELECT period, NULL, SUM(v) FROM (SELECT DISTINCT period, c, v FROM kept) "
           f"AS per_customer GROUP BY period")
    by_group, totals = ({}, {}), [Decimal(0), Decimal(0)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for in_period, key, value in cursor.fetchall():
            # SQLite answers a float for a sum of decimals: back to cents.
            value = Decimal(str(value or 0)).quantize(CENT)
            if key is None:
                totals[1 - in_period] = value
            else:
                by_group[1 - in_period][key] = value
    return by_group[0], by_group[1], totals[0], totals[1]


def _with_value_kept(scope, start, end, group, current, before, total):
    """Put the customers' value kept (`value_kept`) into figures counted from the rollup or the incidents."""
    kept_now, kept_before, total_now, total_before = value_kept(scope, start, end, group)
    for rows, kept in ((current, kept_now), (before, kept_before)):
        for key, row in rows.items():
            row["value_kept"] = kept.get(key, Decimal(0))
    total.current["value_kept"], total.previous["value_kept"] = total_now, total_before


@dataclass
class ScoreRow:
    key: object
    label: str
    current: dict
    previous: dict


def scorecard(scope, start, end, *, group="location", now, staff=()):
    """The scorecard for [start, end) beside the period just before, per location or per staff member,
    with a total row. Read from the rollup (a few queries whatever the number of incidents) when the
    periods are whole days it keeps; otherwise from the incidents."""
    counts = rollups.scorecard_counts(scope, start, end, group, now)
    if counts is None:
        return scorecard_from_raw(scope, start, end, group=group, now=now, staff=staff)
    current, before, total_current, total_before = counts
    total = ScoreRow(None, "All", _derived(total_current), _derived(total_before))
    current = {key: _derived(row) for key, row in current.items()}
    before = {key: _derived(row) for key, row in before.items()}
    _with_value_kept(scope, start, end, group, current, before, total)
    return _rows(scope, group, staff, current, before, total)


def scorecard_from_raw(scope, start, end, *, group="location", now, staff=()):
    """The same scorecard from the incidents themselves: the reference the rollup is tested against.
    One query on PostgreSQL (both periods, groups and totals in one pass); four per period on SQLite."""
    previous_start, previous_end = start - (end - start), start
    one_pass = _figures_in_one_pass(scope, start, end, group, now) if connection.vendor == "postgresql" else None
    if one_pass:
        current, before, total = one_pass
    else:
        current = _figures(scope, start, end, group, now)
        before = _figures(scope, previous_start, previous_end, group, now)
        total = ScoreRow(None, "All", _figures(scope, start, end, None, now)[None],
                         _figures(scope, previous_start, previous_end, None, now)[None])
    _with_value_kept(scope, start, end, group, current, before, total)
    return _rows(scope, group, staff, current, before, total)


def _rows(scope, group, staff, current, before, total):
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
        "champion", "champion_rate", "retained", "partial", "lost", "gestures", "gesture_cost", "value_kept",
        "customer_champion", "response_rate", "disagreement_rate")},
}


def sort_rows(rows, column, descending):
    """Sort the few grouped rows; a missing figure (“–”) always goes last."""
    key = SORTABLE.get(column, SORTABLE["label"])
    present = [row for row in rows if key(row) is not None]
    missing = [row for row in rows if key(row) is None]
    return sorted(present, key=key, reverse=descending) + missing
