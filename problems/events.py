"""The problem's timeline: one small function writes every entry."""

from .models import ProblemEvent


def record(problem, kind, summary, *, at, actor=None, **after):
    """Append one entry; `actor` None for the engine. An API client's integration user is recorded as such."""
    return ProblemEvent.objects.create(problem=problem, kind=ProblemEvent.Kind(kind), summary=summary[:300], at=at,
                                       actor=actor if actor is not None and actor.is_authenticated else None,
                                       after=after)
