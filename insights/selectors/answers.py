"""What customers told us: their answers to the satisfaction check, suggestions first among them."""

from outreach.models import SurveyAnswer


def customer_answers(scope, values, start, end, *, with_suggestion=False):
    """Answers given in [start, end) about incidents at the scope's locations, newest first; one query
    per page (the incident, its location, owner and customer come with each answer)."""
    answers = SurveyAnswer.objects.filter(incident__location_id__in=scope.location_ids, answered_at__gte=start,
                                          answered_at__lt=end)
    if values.get("location"):
        answers = answers.filter(incident__location_id=values["location"])
    if values.get("owner"):
        answers = answers.filter(incident__owner_id=values["owner"])
    if with_suggestion:
        answers = answers.exclude(suggestion="")
    return answers.select_related("incident__location", "incident__owner", "incident__customer").order_by(
        "-answered_at", "-pk")
