"""Clusters that stand out, found with a stated statistical test over grouped counts.

The test. Each cell of a table of counts (e.g. Riverside × Wednesday × 15:00) is compared with the rate
the same kind of cell has everywhere else:

    expected = row total × (column total − observed + ½) / (grand total − row total + ½)

For the heatmap a row is one weekday at one location and a column one hour of the day at that location,
so the expected count is "this hour's usual share on the other days of the week, scaled to this day's
volume". For products a row is a region and a column a category: "this category's share in the other
regions". (The ½ keeps the expectation finite when a category never happens elsewhere.)

A cell is flagged when the Poisson upper tail P(X ≥ observed | expected) is below α / m (α = 0.01,
Bonferroni-corrected over the m cells of the table), and it holds at least MIN_COUNT incidents so one
bad afternoon of three incidents is not called a pattern. Only grouped counts enter; no incident is read.
"""

import math
from dataclasses import dataclass

ALPHA = 0.01
MIN_COUNT = 5
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def poisson_upper_tail(observed, expected):
    """P(X ≥ observed) for X ~ Poisson(expected), summed from `observed` upwards in log space so very
    small tails stay accurate."""
    if observed <= 0:
        return 1.0
    if expected <= 0:
        return 0.0
    if observed <= expected:
        return 1.0 if observed <= 1 else _one_minus_lower(observed, expected)
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
    def ratio(self):
        return self.observed / self.expected if self.expected else math.inf


def outliers(cells, row_of, column_of, *, cell_count, alpha=ALPHA, min_count=MIN_COUNT):
    """[(cell, observed, expected, p)] for the cells that stand out, most extreme first.

    `cells` maps a cell to its count; `row_of` / `column_of` give the cell's row and column (see the
    module docstring); `cell_count` is m, the number of cells the table could have (zeros included).
    """
    rows, columns, total = {}, {}, 0
    for cell, n in cells.items():
        rows[row_of(cell)] = rows.get(row_of(cell), 0) + n
        columns[column_of(cell)] = columns.get(column_of(cell), 0) + n
        total += n
    threshold = alpha / max(cell_count, 1)
    found = []
    for cell, observed in cells.items():
        if observed < min_count:
            continue
        row_total, column_total = rows[row_of(cell)], columns[column_of(cell)]
        if total - row_total <= 0:
            continue  # nothing elsewhere to compare with
        expected = row_total * (column_total - observed + 0.5) / (total - row_total + 0.5)
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
    )
    clusters = []
    for (location_id, weekday, hour), observed, expected, p in found:
        text = (f"{WEEKDAYS[weekday - 1]} {hour:02d}:00–{(hour + 1) % 24:02d}:00 at {names.get(location_id, location_id)}: "
                f"{observed} incidents, {observed / expected:.1f}× the usual rate")
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
        text = (f"{category_names.get(category_id, '(none)')} in the {region} region: {observed} incidents, "
                f"{observed / expected:.1f}× its rate elsewhere")
        filters = {**(link or {}), "region": region}
        if category_id is not None:
            filters["category"] = category_id
        clusters.append(Cluster("category", text, observed, expected, p, filters))
    return clusters
