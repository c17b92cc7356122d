"""Clusters that stand out, found with a stated statistical test over grouped counts.

The test. Each cell of a table of counts is compared with the rate the same kind of cell has elsewhere
in its table:

    expected = row total × (column total − observed + ½) / (table total − row total + ½)

- Heatmap (one weekday-by-hour table per location): a row is a weekday, a column an hour, so the expected
  count is "this hour's usual share on the other days of the week, scaled to this day's volume".
- Products (one region-by-category table): "this category's rate in the other regions".

Leaving the cell out matters: a strong cluster would otherwise raise its own expectation (a Wednesday
afternoon with 30 incidents makes both "Wednesday" and "15:00" look busy). The ½ keeps the expectation
finite when something never happens elsewhere.

A cell is flagged when the Poisson upper tail P(X ≥ observed | expected) is below α / m (α = 0.001,
Bonferroni-corrected over the m cells the tables could have, zeros included), the cell holds at least
MIN_COUNT incidents (one bad afternoon of three incidents is not a pattern) and at least MIN_RATIO times its
expected count ("stands out" should mean a rate a manager would act on, not a significant 1.3×).

Only grouped counts enter; no incident is read.
"""

import math
from dataclasses import dataclass

from django.utils.dates import WEEKDAYS_ABBR
from django.utils.formats import number_format
from django.utils.translation import gettext as _

ALPHA = 0.001  # family-wise: a manager acts on this list, so it should rarely be wrong
MIN_COUNT = 5
MIN_RATIO = 2.0
# "Mon" … "Sun" in the reader's language (Django's own translations), Monday first as ISO counts.
WEEKDAYS = [WEEKDAYS_ABBR[day] for day in range(7)]


def poisson_upper_tail(observed, expected):
    """P(X ≥ observed) for X ~ Poisson(expected), summed from `observed` upwards in log space so very
    small tails stay accurate."""
    if observed <= 0:
        return 1.0
    if expected <= 0:
        return 0.0
    if observed <= expected:
        return _one_minus_lower(observed, expected)  # not in the tail: no precision to lose
    log_term = observed * math.log(expected) - expected - math.lgamma(observed + 1)
    total, k = 0.0, observed
    while True:
        term = math.exp(log_term)
        total += term
        k += 1
        log_term += math.log(expected) - math.log(k)
        if term < total * 1e-15 or k > observed + 10_000:
            return min(total, 1.0)


def _one_minus_lower(observed, expected):
    lower = sum(math.exp(k * math.log(expected) - expected - math.lgamma(k + 1)) for k in range(observed))
    return max(1.0 - lower, 0.0)


@dataclass(frozen=True)
class Cluster:
    kind: str  # "time" or "category"
    text: str
    observed: int
    expected: float
    p_value: float
    link: dict  # filters for the incident list

    @property
    def p_text(self):
        return f"{self.p_value:.1e}" if self.p_value < 0.001 else f"{self.p_value:.3f}"

    @property
    def chance_words(self):
        """The p-value as a manager reads it: "about 1 in 10 billion" (one significant figure)."""
        return chance_words(self.p_value)

    @property
    def ratio(self):
        return self.observed / self.expected if self.expected else math.inf


# Big numbers in words, largest first: a manager reads "10 billion" sooner than 1e10.
_MAGNITUDES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (10**3, "thousand"))


def chance_words(p_value):
    """How likely a count this high is by chance alone, in words: "about 1 in 10 billion"."""
    if p_value <= 0 or p_value < 1e-12:
        return _("less than 1 in a trillion")
    odds = 1 / p_value
    if odds < 2:
        return _("likely")
    scale = 10 ** math.floor(math.log10(odds))
    odds = round(odds / scale) * scale
    for size, unit in _MAGNITUDES:
        if odds >= size:
            number = f"{odds / size:g}"
            words = {"trillion": _("%(number)s trillion"), "billion": _("%(number)s billion"),
                     "million": _("%(number)s million"), "thousand": _("%(number)s thousand")}[unit]
            return _("about 1 in %(odds)s") % {"odds": words % {"number": number}}
    return _("about 1 in %(odds)s") % {"odds": f"{odds:g}"}


def outliers(cells, row_of, column_of, *, cell_count, table_of=lambda cell: None, alpha=ALPHA,
             min_count=MIN_COUNT, min_ratio=MIN_RATIO):
    """[(cell, observed, expected, p)] for the cells that stand out, most extreme first.

    `cells` maps a cell to its count; `row_of` / `column_of` give the cell's row and column; `cell_count`
    is m, the number of cells the tables could have (zeros included); `table_of` names the table a cell belongs to (e.g. its location).
    """
    rows, columns, totals = {}, {}, {}
    for cell, n in cells.items():
        rows[row_of(cell)] = rows.get(row_of(cell), 0) + n
        columns[column_of(cell)] = columns.get(column_of(cell), 0) + n
        totals[table_of(cell)] = totals.get(table_of(cell), 0) + n
    threshold = alpha / max(cell_count, 1)
    found = []
    for cell, observed in cells.items():
        if observed < min_count:
            continue
        row_total, column_total, total = rows[row_of(cell)], columns[column_of(cell)], totals[table_of(cell)]
        if total - row_total <= 0:
            continue  # nothing elsewhere to compare with
        expected = row_total * (column_total - observed + 0.5) / (total - row_total + 0.5)
        if observed < min_ratio * expected:
            continue
        p = poisson_upper_tail(observed, expected)
        if p < threshold:
            found.append((cell, observed, expected, p))
    return sorted(found, key=lambda item: item[3])


def time_clusters(cells, locations, *, link=None):
    """Clusters of (location, weekday, hour) cells: the weekday-by-hour table of each location."""
    names = {location.pk: location.name for location in locations}
    found = outliers(
        cells,
        row_of=lambda cell: (cell[0], cell[1]),
        column_of=lambda cell: (cell[0], cell[2]),
        cell_count=max(len(names), 1) * 7 * 24,
        table_of=lambda cell: cell[0],
    )
    clusters = []
    for (location_id, weekday, hour), observed, expected, p in found:
        text = _("%(day)s %(start)s–%(end)s at %(location)s: %(observed)s incidents, %(ratio)s× the usual rate") % {
            "day": WEEKDAYS[weekday - 1], "start": f"{hour:02d}:00", "end": f"{(hour + 1) % 24:02d}:00",
            "location": names.get(location_id, location_id), "observed": observed,
            "ratio": number_format(round(observed / expected, 1), 1)}
        clusters.append(Cluster("time", text, observed, expected, p,
                                {**(link or {}), "location": location_id, "weekday": weekday, "hour": hour}))
    return clusters


def category_clusters(cells, category_names, *, link=None):
    """Clusters of (region, category) cells: a product failing far more in one region than elsewhere."""
    regions = {region for region, _ in cells}
    categories = {category for _, category in cells}
    found = outliers(cells, row_of=lambda cell: cell[0], column_of=lambda cell: cell[1],
                     cell_count=max(len(regions) * len(categories), 1))
    clusters = []
    for (region, category_id), observed, expected, p in found:
        text = _("%(category)s in the %(region)s region: %(observed)s incidents, %(ratio)s× its rate elsewhere") % {
            "category": category_names.get(category_id, _("(none)")), "region": region, "observed": observed,
            "ratio": number_format(round(observed / expected, 1), 1)}
        filters = {**(link or {}), "region": region}
        if category_id is not None:
            filters["category"] = category_id
        clusters.append(Cluster("category", text, observed, expected, p, filters))
    return clusters
