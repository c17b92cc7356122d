"""Geometry for the server-made SVG charts: numbers in, coordinates out, so templates only draw."""

from urllib.parse import urlencode

from django.utils.formats import get_format, number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .clusters import WEEKDAYS

CELL = 22
LEFT = 40
TOP = 22
BAR_WIDTH = 250
BAR_ROW = 40  # a label line above each bar: "Peak (above 90% capacity)" is read whole, not cut
BAR_LABEL = 55  # characters; a longer label ends in "…" and is whole in the bar's tooltip


def query(filters, **extra):
    """A query string for the incident list: the page's filters plus the cell's own."""
    merged = {key: value for key, value in {**filters, **extra}.items() if value not in (None, "", False)}
    for key in ("start", "end"):
        if hasattr(merged.get(key), "isoformat"):
            merged[key] = merged[key].isoformat()
    return urlencode(merged)


def heatmap_svg(grid, *, filters, marked=()):
    """Cells of the weekday × hour heatmap with position, shade and drill-down query; `marked` are the
    (weekday, hour) cells of clusters, outlined."""
    peak = max(grid.values(), default=0) or 1
    cells = []
    for (weekday, hour), n in sorted(grid.items()):
        cells.append({
            "x": LEFT + hour * CELL, "y": TOP + (weekday - 1) * CELL, "n": n, "weekday": WEEKDAYS[weekday - 1],
            "hour": hour, "shade": round(0.08 + 0.92 * n / peak, 3) if n else 0,
            "marked": (weekday, hour) in marked, "query": query(filters, weekday=weekday, hour=hour),
        })
    return {
        # The same cells as a weekday × hour table, for reading rather than seeing.
        "table": [{"weekday": WEEKDAYS[day], "cells": cells[day * 24:(day + 1) * 24]} for day in range(7)],
        "hours": [f"{hour:02d}" for hour in range(24)],
        "cells": cells, "size": CELL, "width": LEFT + 24 * CELL + 4, "height": TOP + 7 * CELL + 4,
        "rows": [{"label": name, "y": TOP + i * CELL + CELL * 0.7} for i, name in enumerate(WEEKDAYS)],
        "columns": [{"label": f"{hour:02d}", "x": LEFT + hour * CELL + CELL / 2} for hour in range(0, 24, 3)],
        "peak": peak, "left": LEFT, "top": TOP,
    }


def bar_chart(rows, *, filters, key_name, extra=None):
    """Horizontal bars for a breakdown: [(key, label, count)] → drawable rows, longest first."""
    peak = max((n for _, _, n in rows), default=0) or 1
    bars = []
    for i, (key, label, n) in enumerate(rows):
        label = str(label)
        width = max(round(BAR_WIDTH * n / peak, 1), 1)
        bars.append({
            "label": label if len(label) <= BAR_LABEL else label[:BAR_LABEL - 1] + "…", "full_label": label,
            "n": n, "y": i * BAR_ROW, "text_y": i * BAR_ROW + 13, "rect_y": i * BAR_ROW + 18,
            "value_y": i * BAR_ROW + 31, "width": width, "value_x": width + 6,
            "note": (extra or {}).get(key), "query": query(filters, **{key_name: "" if key is None else key}),
        })
    return {"bars": bars, "height": max(len(bars), 1) * BAR_ROW, "left": 0, "width": BAR_WIDTH + 120}


# --- Scorecard cells ------------------------------------------------------------------------------

SCORE_COLUMNS = [
    ("label", _("Where / who")), ("logged", _("Incidents")), ("rule_rate", _("20-min rule met")),
    ("seconds_to_apology_p50", _("To apology (median / p90)")), ("seconds_to_follow_up_p50", _("To first follow-up")),
    ("seconds_to_fix_p50", _("To fix")), ("open_over_day", _("Open > 1 day")), ("wrap_up_rate", _("Wrap-ups done")),
    ("champion", _("Champions, staff-judged (rate)")), ("customer_champion", _("Champions, customer-confirmed (rate)")),
    ("response_rate", _("Satisfaction checks answered")), ("disagreement_rate", _("Staff vs customer")),
    ("retained", _("Retained / partial / lost")), ("gesture_cost", _("Gestures · cost")),
    ("value_kept", _("Lifetime value kept")),
]


def percent(value):
    return "–" if value is None else f"{value:g}".replace(".", get_format("DECIMAL_SEPARATOR")) + "%"


def minutes(seconds):
    """A duration the way the reader's language writes numbers: "12 min", "1,5 h" in Spanish."""
    if seconds is None:
        return "–"
    if seconds < 3600:
        return f"{number_format(round(seconds / 60), 0)} min" if seconds >= 60 else f"{seconds} s"
    if seconds < 86400 * 2:
        return f"{number_format(round(seconds / 3600, 1), 1)} h"
    return gettext("%(days)s d") % {"days": number_format(round(seconds / 86400, 1), 1)}


def money(value):
    # Rounded first: number_format cuts the decimals it drops rather than rounding them.
    return number_format(round(float(value or 0)), 0, force_grouping=True)


def gap(f):
    """Where staff and the customer both judged the outcome: how many differ, how many staff judged better."""
    if not f["both_judged"]:
        return "–"
    return gettext("%(disagreed)s of %(both)s differ, %(rosier)s staff higher") % {
        "disagreed": f["disagreed"], "both": f["both_judged"], "rosier": f["staff_rosier"]}


def champion_cells(f):
    """Champions as staff judged them beside those customers confirmed, the checks' response rate and
    the gap between the two judgments: the scorecard's columns, and the digest's lines."""
    return {
        "staff": f"{f['champion']} ({percent(f['champion_rate'])})",
        "customer": f"{f['customer_champion']} ({percent(f['customer_champion_rate'])})",
        "answered": gettext("%(answered)s of %(sent)s (%(rate)s)") % {
            "answered": f["answered"], "sent": f["checks_sent"], "rate": percent(f["response_rate"])},
        "gap": gap(f),
    }


def champion_lines(rows):
    """[(label, champion_cells)] of the rows with incidents in the period, for the digest."""
    return [(row.label, champion_cells(row.current)) for row in rows if row.current["logged"]]


def score_cells(figures):
    """The scorecard figures of one period as the strings its cells show."""
    f = figures
    pair = lambda name: f"{minutes(f[name + '_p50'])} / {minutes(f[name + '_p90'])}"  # noqa: E731
    return [
        str(f["logged"]), percent(f["rule_rate"]), pair("seconds_to_apology"), pair("seconds_to_follow_up"),
        pair("seconds_to_fix"), str(f["open_over_day"]), percent(f["wrap_up_rate"]),
        *champion_cells(f).values(),
        f"{f['retained']} / {f['partial']} / {f['lost']}",
        f"{f['gestures']} · {money(f['gesture_cost'])}", money(f["value_kept"]),
    ]


def score_table(rows):
    """[(label, is_total, [(current, previous)])] for the template."""
    return [(row.label, row.key is None, list(zip(score_cells(row.current), score_cells(row.previous)))) for row in rows]
