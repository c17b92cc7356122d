"""Did the fix work? The pattern's rate after the fix compared with its rate before, in words.

The test. Before the fix the pattern had `before` incidents in `before_days`; since, `after` in
`after_days`. If the fix changed nothing, both periods share one Poisson rate, and given the total
n = before + after, the count after is Binomial(n, after_days / (before_days + after_days)): the exact
comparison of two Poisson rates, the same kind of model the clusters' test uses (insights.clusters), with
the old rate's own uncertainty counted in. The verdict is "fixed" when P(X ≤ after) is below ALPHA.

ALPHA is 1%: with nothing changed, a manager should be told "fixed" about one time in a hundred at most
(tests/problems/test_verdict.py runs seeded simulations of uniform data and counts).
A verdict needs MIN_DAYS after the fix; before that it is "too early to tell".
"""

from django.utils.translation import gettext
import datetime
import math
from dataclasses import dataclass

ALPHA = 0.01
MIN_DAYS = 7
# The old rate is read over at most this long before the fix (and never before the first incident recorded).
BEFORE_WINDOW = datetime.timedelta(weeks=8)

TOO_EARLY = "too_early"
FIXED = "fixed"
UNCLEAR = "unclear"
NOT_FIXED = "not_fixed"
NOT_MARKED = "not_marked"  # no fix marked done yet


@dataclass(frozen=True)
class Verdict:
    kind: str
    text: str
    before: int = 0
    before_days: float = 0.0
    after: int = 0
    after_days: float = 0.0
    expected: float = 0.0  # incidents expected after the fix at the old rate
    p_value: float = 1.0

    @property
    def is_fixed(self):
        return self.kind == FIXED

    @property
    def label(self):
        return {TOO_EARLY: gettext("Too early to tell"), FIXED: gettext("Fixed"), UNCLEAR: gettext("Fewer, not clear yet"),
                NOT_FIXED: gettext("Not fixed"), NOT_MARKED: gettext("No fix yet")}[self.kind]


def binomial_lower_tail(k, n, p):
    """P(X ≤ k) for X ~ Binomial(n, p), summed in log space."""
    if k >= n:
        return 1.0
    if p <= 0:
        return 1.0
    if p >= 1:
        return 0.0 if k < n else 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k + 1):
        total += math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q)
    return min(total, 1.0)


def _span(days):
    if days >= 13.5:
        weeks = round(days / 7)
        return f"{weeks} week{'s' if weeks != 1 else ''}"
    whole = max(round(days), 1) if days >= 1 else 0
    return f"{whole} day{'s' if whole != 1 else ''}" if whole else "less than a day"


def _incidents(n):
    return f"{n} incident{'s' if n != 1 else ''}"


def _expected(x):
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}".rstrip("0").rstrip(".")


def judge(*, before, before_days, after, after_days, since, usual_per_day=None, change="the change"):
    """The verdict on counts: `since` is the day of the change, for the words ("Since the change on 3 Nov");
    `change` names it otherwise (the recurrence check after closing says "Since closing on 1 Dec")."""
    opening = f"Since {change} on {since.day} {since:%b}"
    expected = before / before_days * after_days if before_days > 0 else 0.0
    facts = dict(before=before, before_days=before_days, after=after, after_days=after_days, expected=expected)
    observed = f"{_incidents(after)} in {_span(after_days)}"
    if before_days <= 0 or before == 0:
        return Verdict(TOO_EARLY, f"{opening}: {observed}; there were no incidents before the fix to compare with.", **facts)
    if after_days < MIN_DAYS:
        return Verdict(TOO_EARLY, f"{opening}: {observed} where {_expected(expected)} were expected at the old rate; "
                                  f"too early to tell (a verdict needs {MIN_DAYS} days).", **facts)
    p = binomial_lower_tail(after, before + after, after_days / (before_days + after_days))
    where = f"{observed} where {_expected(expected)} were expected at the old rate"
    if p < ALPHA:
        return Verdict(FIXED, f"{opening}: {where}: fixed.", p_value=p, **facts)
    if usual_per_day:
        ratio = after / (usual_per_day * after_days)
        still = f"still {ratio:.1f}× the usual rate" if ratio >= 1.05 else "back to about the usual rate, yet not clearly below the old one"
    else:
        ratio = after / expected if expected else math.inf
        still = f"at {ratio:.0%} of the old rate" if ratio < 1 else f"still {ratio:.1f}× the old rate"
    if after <= expected / 2:
        return Verdict(UNCLEAR, f"{opening}: {where}: fewer, but not clearly fixed yet.", p_value=p, **facts)
    return Verdict(NOT_FIXED, f"{opening}: {where}; {still}: not fixed.", p_value=p, **facts)
