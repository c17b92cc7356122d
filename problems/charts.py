"""The problem page's chart: the pattern's incidents per week over the last twelve weeks, with the day
the fix was made marked. Numbers in, coordinates out (as insights.charts), so the template only draws."""

import datetime
import math

from django.db.models import Count, Q
from django.utils import timezone

WEEKS = 12
WEEK = datetime.timedelta(weeks=1)
LEFT, TOP, BOTTOM, RIGHT = 34, 16, 30, 10
BAR, GAP, HEIGHT = 40, 8, 150


def weekly_counts(incidents, *, now, weeks=WEEKS):
    """[(start, end, count)] of the twelve weeks ending now, oldest first; one counting query."""
    bounds = [(now - (weeks - i) * WEEK, now - (weeks - i - 1) * WEEK) for i in range(weeks)]
    counts = incidents.aggregate(**{
        f"week_{i}": Count("pk", filter=Q(logged_at__gte=start, logged_at__lt=end)) for i, (start, end) in enumerate(bounds)
    })
    return [(start, end, counts[f"week_{i}"] or 0) for i, (start, end) in enumerate(bounds)]


def _day(moment):
    local = timezone.localtime(moment)
    return f"{local.day} {local:%b}"


def weekly_chart(weeks, *, fixed_at=None, usual_per_day=None):
    """Bars of the weekly counts; the fix's line where it falls (or a note that it is before the chart); the
    usual rate when the problem was found, as a dashed line of that many per week."""
    usual_per_week = usual_per_day * 7 if usual_per_day else None
    peak = max([n for _, _, n in weeks] + [math.ceil(usual_per_week or 0), 1])
    scale = HEIGHT / peak
    bars = []
    for i, (start, end, n) in enumerate(weeks):
        x = LEFT + i * (BAR + GAP)
        height = round(n * scale, 1)
        bars.append({"x": x, "y": TOP + HEIGHT - height, "height": height, "n": n, "label": _day(start),
                     "text_x": x + BAR / 2, "value_y": TOP + HEIGHT - height - 3, "start": start, "end": end,
                     "after_fix": fixed_at is not None and start >= fixed_at})
    width = LEFT + len(weeks) * (BAR + GAP) - GAP + RIGHT
    fix = None
    if fixed_at is not None and weeks:
        first, last = weeks[0][0], weeks[-1][1]
        if first <= fixed_at <= last:
            share = (fixed_at - first) / (last - first)
            x = round(LEFT + share * (len(weeks) * (BAR + GAP) - GAP), 1)
            fix = {"x": x, "label": f"Fix {_day(fixed_at)}", "label_x": min(x + 4, width - 60), "before_chart": False}
        elif fixed_at < first:
            fix = {"x": None, "label": f"Fix {_day(fixed_at)}", "before_chart": True}
    usual = None
    if usual_per_week:
        y = round(TOP + HEIGHT - usual_per_week * scale, 1)
        usual = {"y": y, "label": f"usual {usual_per_week:.1f}/week", "per_week": usual_per_week}
    ticks = [{"y": round(TOP + HEIGHT - value * scale, 1), "value": value} for value in sorted({0, peak // 2, peak})]
    return {"bars": bars, "width": width, "height": TOP + HEIGHT + BOTTOM, "left": LEFT, "top": TOP,
            "bottom": TOP + HEIGHT, "label_y": TOP + HEIGHT + 18, "fix": fix, "usual": usual, "ticks": ticks,
            "bar_width": BAR, "right": width - RIGHT, "total": sum(bar["n"] for bar in bars)}
