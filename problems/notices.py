"""What the problems tell people (through the follow-up engine's inbox and email)."""

from django.urls import reverse

from followups.models import Notification
from followups.services import tell


def new_incident_matched(problem, incident, *, now):
    """The problem's owner hears that it happened again."""
    tell([problem.owner], kind=Notification.Kind.KNOWN_PROBLEM, incident=incident,
         link=reverse("problems:detail", args=[problem.pk]),
         title=f"{problem.title}: it happened again ({incident.reference})",
         body=f"{incident.reference} at {incident.location.name} matches the problem's pattern: {incident.summary}",
         dedupe_key=f"problem.{problem.pk}.incident.{incident.pk}", now=now)
