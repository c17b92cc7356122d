"""The managers' rollup: the scorecard's and the trends' figures summed per location × slice of a local
day × breakdown (`insights.models.Tally`), so a page reads a few rows per location and day instead of
every incident of the period.

How it is kept: a beat pass every minute (`fold_changes`) finds the incidents changed since its cursor
(`Incident.updated_at`, plus gestures decided and satisfaction checks sent, which do not touch the
incident's row) and recomputes each affected location-day whole from the incidents. Recomputing rather
than adding deltas makes a pass idempotent, and looking back MARGIN before the cursor catches a
transaction that committed after a later one (its `updated_at` is older than its commit). The record
(`incidents`) knows nothing of this: no write of a recovery step waits on the rollup.

What stays with the incidents: the figures that depend on the moment the page is read (the
twenty-minute clocks still running, incidents open for less than a day) are finished from the last
day's incidents at read time; filters the rollup has no column for (stage, owner, logged by, category,
busyness, channel, late only, weekday, hour) and periods that are not whole days of the locations' own
time zone or of UTC are answered from the incidents (`insights.selectors.scorecard_from_raw`,
`insights.selectors.trend_counts`), and so is every page until the first pass has built the rollup.
The pages may be up to a pass (a minute) behind the recoveries.
"""

import datetime
import math
from collections import Counter, defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, Count, Exists, IntegerField, Max, Min, OuterRef, Q, Sum, Value, When
from django.db.models.functions import ExtractIsoWeekDay
from django.utils import timezone

from incidents.calendar import zone_named
from incidents.models import Gesture, Incident, Location, Organization, Outcome
from outreach.models import Message

from .models import Tally, TallyCursor

DAY = datetime.timedelta(days=1)
UTC = datetime.timezone.utc
# Longer than any transaction that writes an incident: one that commits late is still seen by the next pass.
MARGIN = datetime.timedelta(minutes=5)
DURATIONS = ("seconds_to_apology", "seconds_to_follow_up", "seconds_to_fix")
RANKED = (Outcome.CHAMPION, Outcome.RETAINED, Outcome.PARTIAL, Outcome.LOST)
# Not the lifetime value kept: a customer kept on two days would count twice in a sum of days, so the
# scorecard reads that figure from the incidents (`insights.selectors.scorecard.value_kept`), and
# Tally.value_kept is no longer written.
SUMMED = ("logged", "responded", "rule_met", "fixed", "wrapped_up", "open", "closed_late", *Outcome.values,
          "gestures", "gesture_cost", "checks_sent", "answered",
          *(f"customer_{outcome}" for outcome in Outcome.values), "both_judged", "disagreed", "staff_rosier")
# The trends' breakdowns kept per location and slice: dimension → the incident's column.
BREAKDOWNS = {"owner": "owner_id", "logged_by": "logged_by_id", "category": "category_id", "busyness": "busyness",
              "channel": "channel"}
BY_ID = {"owner", "logged_by", "category"}


def shown_seconds(seconds):
    """A duration at the resolution the scorecard shows it (seconds under a minute, minutes under an
    hour, tenths of an hour under two days, tenths of a day beyond), as the smallest round value that
    shows the same. Monotone, so the nearest-rank percentile of the shown values is the shown
    percentile."""
    if seconds is None:
        return None
    if seconds < 60:
        return seconds
    if seconds < 3600:
        return min(int(f"{seconds / 60:.0f}") * 60, 3599)
    if seconds < 2 * 86400:
        return min(max(round(float(f"{seconds / 3600:.1f}") * 3600), 3600), 2 * 86400 - 1)
    return max(round(float(f"{seconds / 86400:.1f}") * 86400), 2 * 86400)


def percentile(histogram, percent):
    """Nearest rank (the value at rank ceil(n × p), as PostgreSQL's percentile_disc) of {value: count}."""
    n = sum(histogram.values())
    if not n:
        return None
    rank, running = (n * percent + 99) // 100, 0
    for value in sorted(histogram):
        running += histogram[value]
        if running >= rank:
            return value
    return None


# --- Folding ---------------------------------------------------------------------------------------

def local_day(zone, day):
    return (datetime.datetime.combine(day, datetime.time(), tzinfo=zone),
            datetime.datetime.combine(day + DAY, datetime.time(), tzinfo=zone))


def _key(value):
    return "" if value is None else str(value)


def _add_figures(tally, row, histograms):
    tally.logged += 1
    if row["responded_at"] is not None:
        tally.responded += 1
        tally.rule_met += row["responded_at"] <= row["follow_up_due_at"]
    else:
        window = max(math.ceil((row["follow_up_due_at"] - row["logged_at"]).total_seconds()), 0)
        tally.unanswered_window = max(tally.unanswered_window or 0, window)
    if row["fixed_at"] is not None:
        tally.fixed += 1
        tally.wrapped_up += row["wrapped_up_at"] is not None
    if row["closed_at"] is None:
        tally.open += 1
    elif row["closed_at"] > row["logged_at"] + DAY:
        tally.closed_late += 1
    outcome, said = row["outcome"], row["customer_outcome"]
    if outcome in Outcome.values:
        setattr(tally, outcome, getattr(tally, outcome) + 1)
    tally.gestures += row["gesture_count"] or 0
    tally.gesture_cost += row["gesture_cost"] or 0
    tally.checks_sent += bool(row["check_sent"])
    if said:
        tally.answered += 1
        name = f"customer_{said}"
        setattr(tally, name, getattr(tally, name) + 1)
        if outcome:
            tally.both_judged += 1
            tally.disagreed += outcome != said
            tally.staff_rosier += outcome in RANKED and said in RANKED[RANKED.index(outcome) + 1:]
    for name in DURATIONS:
        if row[name] is not None:
            histograms[name][str(shown_seconds(row[name]))] += 1


def _day_tallies(location_id, zone, day):
    """The rollup rows of one location's local day, from its incidents."""
    start, end = local_day(zone, day)
    check_sent = Exists(Message.objects.filter(incident=OuterRef("pk"), kind=Message.Kind.SATISFACTION_CHECK,
                                               sent_at__isnull=False))
    rows = Incident.objects.filter(location_id=location_id, logged_at__gte=start, logged_at__lt=end).annotate(
        check_sent=check_sent
    ).values("logged_at", "occurred_at", "follow_up_due_at", "responded_at", "fixed_at", "closed_at", "wrapped_up_at", "outcome",
             "customer_outcome", "gesture_count", "gesture_cost", "check_sent",
             *DURATIONS, *BREAKDOWNS.values()).order_by()
    tallies, histograms = {}, defaultdict(lambda: defaultdict(Counter))

    def cell(utc_date, dimension, key):
        found = tallies.get((utc_date, dimension, key))
        if found is None:
            found = tallies[(utc_date, dimension, key)] = Tally(
                location_id=location_id, local_date=day, utc_date=utc_date, dimension=dimension, key=key,
                value_kept=Decimal(0), gesture_cost=Decimal(0))
        return found

    for row in rows:
        utc_date = row["logged_at"].astimezone(UTC).date()
        for dimension, key in (("", ""), ("owner", _key(row["owner_id"]))):
            _add_figures(cell(utc_date, dimension, key), row, histograms[(utc_date, dimension, key)])
        for dimension, column in BREAKDOWNS.items():
            if dimension != "owner":
                cell(utc_date, dimension, _key(row[column])).logged += 1
        # When it happened, which may be another day than the one it was logged on: the weekday rides in the key.
        happened = row["occurred_at"].astimezone(zone)
        cell(utc_date, "hour", f"{happened.isoweekday()}-{happened.hour:02d}").logged += 1
    for place, tally in tallies.items():
        if place in histograms:
            tally.durations = {name: dict(counts) for name, counts in histograms[place].items()}
    return list(tallies.values())


def fold_days(days):
    """Recompute the rollup of each (location id, local date) from the incidents. Call under the
    cursor's lock (`fold_changes`, `rebuild`): two folds of the same day must not interleave."""
    by_location = defaultdict(set)
    for location_id, day in days:
        by_location[location_id].add(day)
    zones = dict(Location.objects.filter(pk__in=by_location).values_list("pk", "timezone"))
    for location_id, dates in by_location.items():
        if location_id not in zones:
            continue
        zone = zone_named(zones[location_id])
        with transaction.atomic():
            for day in sorted(dates):
                Tally.objects.filter(location_id=location_id, local_date=day).delete()
                Tally.objects.bulk_create(_day_tallies(location_id, zone, day), batch_size=1000)
            _chain(location_id, min(dates))
    return sum(len(dates) for dates in by_location.values())


SERIES = ("", "owner")  # the rows that carry the scorecard's histograms


def _plus(histograms, more, sign=1):
    summed = {name: dict(counts) for name, counts in histograms.items()}
    for name, counts in more.items():
        target = summed.setdefault(name, {})
        for value, n in counts.items():
            target[value] = target.get(value, 0) + sign * n
    return summed


def _chain(location_id, day):
    """Sum the histograms along each series of the location again from `day` on (`durations_through`),
    starting from the last row before it. Slices sort in time by (local date, UTC date)."""
    rows = Tally.objects.filter(location_id=location_id, dimension__in=SERIES)
    last_before = {}
    for pk, dimension, key in rows.filter(local_date__lt=day).order_by("local_date", "utc_date").values_list(
            "pk", "dimension", "key"):
        last_before[(dimension, key)] = pk
    through = {(dimension, key): value for dimension, key, value in Tally.objects.filter(
        pk__in=list(last_before.values())).values_list("dimension", "key", "durations_through")}
    changed = []
    for row in rows.filter(local_date__gte=day).order_by("local_date", "utc_date").only(
            "pk", "dimension", "key", "durations", "durations_through"):
        row.durations_through = through[(row.dimension, row.key)] = _plus(
            through.get((row.dimension, row.key), {}), row.durations)
        changed.append(row)
    Tally.objects.bulk_update(changed, ["durations_through"], batch_size=500)


def _days_of(logged):
    """{(location id, local date)} of [(location id, logged_at)]."""
    zones = {}
    days = set()
    for location_id, logged_at in logged:
        if location_id not in zones:
            zones[location_id] = Location.objects.get(pk=location_id).zone
        days.add((location_id, logged_at.astimezone(zones[location_id]).date()))
    return days


def _locked_cursor(now):
    """The cursor row, locked for the pass: a second pass waits here, then starts from where this one
    ended. True with it if this pass made it (the rollup was never built)."""
    _, created = TallyCursor.objects.get_or_create(pk=1, defaults={"folded_until": now})
    return TallyCursor.objects.select_for_update().get(pk=1), created


def fold_changes(*, now=None):
    """The beat pass: fold every location-day whose incidents changed since the last pass (less
    MARGIN). The first pass folds everything. Returns how many location-days were folded."""
    now = now or timezone.now()
    with transaction.atomic():
        cursor, created = _locked_cursor(now)
        if created:
            return _rebuild_locked()
        since = cursor.folded_until - MARGIN
        # Per organization, so the (organization, updated_at) index answers.
        changed = Incident.objects.filter(organization_id__in=Organization.objects.values("pk"), updated_at__gte=since)
        logged = set(changed.values_list("location_id", "logged_at"))
        logged |= set(Gesture.objects.filter(decided_at__gte=since).values_list("incident__location_id",
                                                                                "incident__logged_at"))
        logged |= set(Message.objects.filter(kind=Message.Kind.SATISFACTION_CHECK, sent_at__gte=since).values_list(
            "incident__location_id", "incident__logged_at"))
        folded = fold_days(_days_of(logged))
        cursor.folded_until = now
        cursor.save(update_fields=["folded_until"])
    return folded


def rebuild(*, now=None):
    """Fold every location-day that has incidents (a new installation, or after a bulk load)."""
    now = now or timezone.now()
    with transaction.atomic():
        cursor, _ = _locked_cursor(now)
        folded = _rebuild_locked()
        cursor.folded_until = now
        cursor.save(update_fields=["folded_until"])
    return folded


def _rebuild_locked():
    Tally.objects.all().delete()
    days = set()
    for location in Location.objects.all():
        zone = location.zone
        # The local days that have incidents, one DISTINCT over the location's index.
        hours = Incident.objects.filter(location=location).datetimes("logged_at", "day", tzinfo=zone)
        days |= {(location.pk, moment.date()) for moment in hours}
    return fold_days(days)


# --- Reading ---------------------------------------------------------------------------------------

def is_built():
    """Has a fold run? Until the first beat pass builds the rollup, the pages read the incidents."""
    return TallyCursor.objects.exists()


def _midnight(moment):
    return (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)


def slice_condition(locations, start, end):
    """A condition on Tally for the slices of [start, end) at `locations`, or None if for some location
    the period is not whole days of its own time zone nor of UTC (then only the incidents can answer)."""
    by_axis = defaultdict(list)
    for location in locations:
        zone = location.zone
        first, last = start.astimezone(zone), end.astimezone(zone)
        if _midnight(first) and _midnight(last):
            by_axis[("local_date", first.date(), last.date())].append(location.pk)
            continue
        first, last = start.astimezone(UTC), end.astimezone(UTC)
        if not (_midnight(first) and _midnight(last)):
            return None
        by_axis[("utc_date", first.date(), last.date())].append(location.pk)
    condition = Q(pk__in=[])
    for (axis, first, last), ids in by_axis.items():
        # A local date is within a day of its UTC date: the bounds on local_date let the unique index
        # serve the UTC axis too.
        within = Q(location_id__in=ids, **{f"{axis}__gte": first, f"{axis}__lt": last})
        if axis == "utc_date":
            within &= Q(local_date__gte=first - DAY, local_date__lt=last + DAY)
        condition |= within
    return condition


def _by_period(conditions, dimension, column):
    """{(in the current period, group key): figures} for both periods, {same key: {duration: Counter}},
    and the longest unanswered window. The counts are one GROUP BY per series (location and key) and
    period; the histograms come from two rows per series and period (its first and last slice in the
    period), whatever the period's length."""
    current = Case(When(conditions[True], then=Value(1)), default=Value(0), output_field=IntegerField())
    tallies = Tally.objects.filter(conditions[True] | conditions[False], dimension=dimension).annotate(current=current)
    aggregates = {name: Sum(name) for name in SUMMED} | {
        "window": Max("unanswered_window"), "first_date": Min("local_date"), "last_date": Max("local_date")}
    rows, window, series = {}, 0, {}
    for row in tallies.values("current", "location_id", "key").annotate(**aggregates).order_by():
        window = max(window, row["window"] or 0)
        period = row["current"] == 1
        group = (period, row["location_id"] if column == "location_id" else row["key"])
        summed = rows.setdefault(group, {name: 0 for name in SUMMED})
        for name in SUMMED:
            summed[name] += row[name] or 0
        series[(period, row["location_id"], row["key"])] = (row["first_date"], row["last_date"])
    # The first and last slice of each series: among its rows on its first and last local date.
    dates = {day for pair in series.values() for day in pair}
    ends = {}
    for period, location_id, key, local_date, utc_date, pk in tallies.filter(local_date__in=dates).values_list(
            "current", "location_id", "key", "local_date", "utc_date", "pk"):
        name = (period == 1, location_id, key)
        if name not in series or local_date not in series[name]:
            continue
        place = (local_date, utc_date, pk)
        first, last = ends.get(name, (place, place))
        ends[name] = (min(first, place), max(last, place))
    wanted = {place[2] for pair in ends.values() for place in pair}
    stored = {pk: (own, through) for pk, own, through in Tally.objects.filter(pk__in=list(wanted)).values_list(
        "pk", "durations", "durations_through")}
    merged = defaultdict(lambda: defaultdict(dict))
    for (period, location_id, key), (first, last) in ends.items():
        target = merged[(period, location_id if column == "location_id" else key)]
        first_own, first_through = stored[first[2]]
        for part, sign in ((stored[last[2]][1], 1), (first_through, -1), (first_own, 1)):
            for name, counts in part.items():
                into = target[name]
                get = into.get
                for value, n in counts.items():
                    into[value] = get(value, 0) + sign * n
    # Keys are the shown seconds as text (JSON's keys): numbers once per group, not once per row.
    histograms = defaultdict(lambda: defaultdict(Counter))
    for group, durations in merged.items():
        for name, counts in durations.items():
            histograms[group][name] = Counter({int(value): n for value, n in counts.items() if n})
    return rows, histograms, window


def scorecard_counts(scope, start, end, group, now):
    """The scorecard's figures per group and in total for [start, end) and the period before, from the
    rollup: ({key: figures}, {key: figures}, total figures, total figures before), or None when the
    periods are not whole days the rollup keeps. The figures are the same counts the incidents give."""
    if not is_built():
        return None
    previous_start = start - (end - start)
    conditions = {True: slice_condition(scope.locations, start, end),
                  False: slice_condition(scope.locations, previous_start, start)}
    if None in conditions.values():
        return None
    if group == "location":
        rows, histograms, window = _by_period(conditions, "", "location_id")
        totals, total_histograms = defaultdict(Counter), defaultdict(lambda: defaultdict(Counter))
        for (period, _), row in rows.items():
            totals[(period, None)].update(row)
            for name, counts in histograms[(period, _)].items():
                total_histograms[(period, None)][name].update(counts)
    else:
        rows, histograms, window = _by_period(conditions, "owner", "key")
        rows = {(period, int(key)): row for (period, key), row in rows.items()}
        histograms = {(period, int(key)): value for (period, key), value in histograms.items()}
        totals, total_histograms, _ = _by_period(conditions, "", "dimension")
        totals = {(period, None): row for (period, _), row in totals.items()}
        total_histograms = {(period, None): value for (period, _), value in total_histograms.items()}
    result = {}
    for period in (True, False):
        mine = {key: row for (p, key), row in rows.items() if p == period}
        for key, row in mine.items():
            _percentiles(row, histograms.get((period, key), {}))
        total = {name: 0 for name in SUMMED} | dict(totals.get((period, None), {}))
        _percentiles(total, total_histograms.get((period, None), {}))
        result[period] = (mine, total)
    _finish_with_now(scope, start, end, previous_start, group, now, window, result)
    return result[True][0], result[False][0], result[True][1], result[False][1]


def _percentiles(row, histograms):
    for name in DURATIONS:
        for label, percent in (("p50", 50), ("p90", 90)):
            row[f"{name}_{label}"] = percentile(histograms.get(name, {}), percent)


def _finish_with_now(scope, start, end, previous_start, group, now, window, result):
    """The figures that depend on `now`, from the incidents of the last day (or of the longest clock):
    a twenty-minute rule still running is not decided yet, and an incident open for less than a day
    is not "open > 1 day"."""
    column = "location_id" if group == "location" else "owner_id"
    incidents = Incident.objects.filter(location_id__in=scope.location_ids, logged_at__gte=previous_start,
                                        logged_at__lt=end)
    current = Case(When(logged_at__gte=start, then=Value(1)), default=Value(0), output_field=IntegerField())
    pending = Counter()
    if window:
        running = incidents.filter(responded_at__isnull=True, follow_up_due_at__gt=now,
                                   logged_at__gte=now - datetime.timedelta(seconds=window))
        for row in running.annotate(current=current).values("current", column).annotate(n=Count("id")).order_by():
            pending[(row["current"] == 1, row[column])] += row["n"]
    recent = Counter()
    young = incidents.filter(closed_at__isnull=True, logged_at__gte=now - DAY)
    for row in young.annotate(current=current).values("current", column).annotate(n=Count("id")).order_by():
        recent[(row["current"] == 1, row[column])] += row["n"]
    for period, (rows, total) in result.items():
        for key, row in rows.items():
            row["rule_decided"] = row["logged"] - pending[(period, key)]
            row["open_over_day"] = row["closed_late"] + row["open"] - recent[(period, key)]
        total["rule_decided"] = total["logged"] - sum(n for (p, _), n in pending.items() if p == period)
        total["open_over_day"] = total["closed_late"] + total["open"] - sum(
            n for (p, _), n in recent.items() if p == period)


def trend_counts(scope, values, start, end):
    """The trends' grouped counts (as `insights.selectors.trends` builds them) from the rollup, or None
    when the filters or the period need the incidents. Location and region filters narrow the
    locations; any other filter is the incidents' to answer."""
    if not is_built():
        return None
    if any(values.get(key) not in (None, "", False) for key in values if key not in ("start", "end", "location", "region")):
        return None
    locations = scope.locations
    if values.get("location") not in (None, ""):
        locations = [location for location in locations if location.pk == values["location"]]
    if values.get("region") not in (None, ""):
        region = "" if values["region"] == "(none)" else values["region"]
        locations = [location for location in locations if location.region == region]
    condition = slice_condition(locations, start, end)
    if condition is None:
        return None
    grouped = {name: {} for name in ("cells", "location", "category", "staff", "busyness", "channel", "owner",
                                     "region_category")}
    region_of = {location.pk: location.region or "(none)" for location in scope.locations}
    names = {"logged_by": "staff"}
    tallies = Tally.objects.filter(condition)
    hours = tallies.filter(dimension="hour").annotate(weekday=ExtractIsoWeekDay("local_date")).values(
        "location_id", "weekday", "key").annotate(n=Sum("logged"))
    for row in hours.order_by():
        # "3-15": Wednesday, 15:00, when it happened. A bare "15" was folded before the weekday was kept
        # (the hour it was logged, on the row's own day) and stays readable until the day is folded again.
        weekday, _, hour = row["key"].rpartition("-")
        cell = (row["location_id"], int(weekday) if weekday else row["weekday"], int(hour))
        grouped["cells"][cell] = grouped["cells"].get(cell, 0) + row["n"]
    others = tallies.exclude(dimension="hour").values("location_id", "dimension", "key").annotate(n=Sum("logged"))
    for row in others.order_by():
        dimension, key, n = row["dimension"], row["key"], row["n"]
        if dimension == "":
            grouped["location"][row["location_id"]] = grouped["location"].get(row["location_id"], 0) + n
            continue
        if dimension in BY_ID:
            key = int(key) if key else None
        name = names.get(dimension, dimension)
        grouped[name][key] = grouped[name].get(key, 0) + n
        if dimension == "category":
            cell = (region_of.get(row["location_id"], "(none)"), key)
            grouped["region_category"][cell] = grouped["region_category"].get(cell, 0) + n
    return grouped
