"""The figures of the managers' console, each computed by the database, by page: open recoveries,
the scorecard, trends, and what customers told us (their answers to the satisfaction check). Callers
use `insights.selectors.<name>`.

Nothing here loops over incidents in Python: every figure is an aggregate (`GROUP BY`), an ordered-set
aggregate (`percentile_disc` on PostgreSQL) or a window function (the portable percentile fallback), and
the number of queries per page does not depend on the number of incidents. Python only shapes the
grouped rows (a few per location or person) for the templates.
"""

from .answers import customer_answers
from .open_recoveries import RowClock, clock_of, open_recoveries, staff_by_location
from .scorecard import DAY, SORTABLE, ScoreRow, scorecard, scorecard_from_raw, sort_rows
from .trends import BREAKDOWNS, TrendCounts, heatmap, incident_list, labelled, local_cells, period_incidents, period_trends, trend_counts

__all__ = [
    "BREAKDOWNS", "DAY", "RowClock", "SORTABLE", "ScoreRow", "TrendCounts", "clock_of", "customer_answers", "heatmap",
    "incident_list", "labelled", "local_cells", "open_recoveries", "period_incidents", "period_trends", "scorecard", "scorecard_from_raw", "sort_rows", "staff_by_location",
    "trend_counts",
]
