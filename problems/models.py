"""Problems: a recurring cause behind many incidents, owned until it is fixed for good.

A problem carries a pattern (the trends page's filters: a location and a weekday-hour window, a category in
a region, a busyness level, a staff member, a channel, or any combination) that says which incidents
belong to it. New incidents that match are linked as they are logged (`problems.services.link_new_incident`),
its corrective actions are one more clock of the follow-up engine, and from the day the fix is marked
done its verdict (`problems.verdict`) compares the pattern's rate after with the rate before.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy


class Status(models.TextChoices):
    INVESTIGATING = "investigating", gettext_lazy("Investigating")
    FIX_PLANNED = "fix_planned", gettext_lazy("Fix planned")
    WATCHING = "watching", gettext_lazy("Fixed, watching")
    CLOSED = "closed", gettext_lazy("Closed")
    RECURRED = "recurred", gettext_lazy("Recurred")


# Statuses in which new matching incidents are linked and the problem counts as open.
OPEN_STATUSES = (Status.INVESTIGATING, Status.FIX_PLANNED, Status.WATCHING, Status.RECURRED)


class Problem(models.Model):
    organization = models.ForeignKey("incidents.Organization", on_delete=models.CASCADE, related_name="problems")
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="problems_owned")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.INVESTIGATING)
    suspected_cause = models.TextField(blank=True)
    confirmed_cause = models.TextField(blank=True)

    # The pattern: every field empty means "any". Local weekday and hours are read in each incident's
    # location's time zone, as the trends page reads them. hour_to is exclusive (15–16 is one hour).
    location = models.ForeignKey("incidents.Location", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    region = models.CharField(max_length=100, blank=True)
    category = models.ForeignKey("incidents.Category", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    busyness = models.CharField(max_length=20, blank=True)
    channel = models.CharField(max_length=20, blank=True)
    logged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", help_text=gettext_lazy("The staff member on the spot (with the hours: a shift)."))
    weekday = models.PositiveSmallIntegerField(null=True, blank=True, help_text=gettext_lazy("ISO weekday, 1 = Monday."))
    hour_from = models.PositiveSmallIntegerField(null=True, blank=True)
    hour_to = models.PositiveSmallIntegerField(null=True, blank=True)
    # False when every pattern field is empty: such a problem is linked to by hand only, never to every incident.
    has_pattern = models.BooleanField(default=False)
    # Where the pattern came from, e.g. the cluster's words, and the cluster's usual (expected) rate per
    # day when it was found: "still 2.1× the usual rate" is measured against it.
    found_as = models.CharField(max_length=300, blank=True)
    usual_per_day = models.FloatField(null=True, blank=True)

    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField()
    fixed_at = models.DateTimeField(null=True, blank=True, help_text=gettext_lazy("When the fix was made; the verdict counts from it."))
    closed_at = models.DateTimeField(null=True, blank=True)
    # Set by the problems pass once the watching period passed without recurrence; cleared by any change of status.
    close_proposed_at = models.DateTimeField(null=True, blank=True)
    # Counts saves, so two managers changing the same problem see a conflict, never a silent overwrite.
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)
    incidents = models.ManyToManyField("incidents.Incident", through="ProblemIncident", related_name="problems")

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            # Serves the matching of every new incident: the organization's problems with a pattern
            # that still link incidents (closed ones too: a recurrence after closing reopens them).
            models.Index(fields=["organization"], name="problem_matchable", condition=Q(has_pattern=True)),
        ]

    def __str__(self):
        return self.title

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES


class ProblemIncident(models.Model):
    """An incident linked to a problem: by the pattern when logged, or by hand."""

    class How(models.TextChoices):
        PATTERN = "pattern", gettext_lazy("Matched the pattern")
        BY_HAND = "by_hand", gettext_lazy("Linked by hand")
        AT_START = "at_start", gettext_lazy("Behind the problem when it was opened")

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="links")
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="problem_links")
    how = models.CharField(max_length=20, choices=How.choices)
    linked_at = models.DateTimeField()
    linked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["problem", "incident"], name="problem_incident_once")]
        indexes = [models.Index(fields=["incident"], name="problem_link_by_incident")]


class CorrectiveAction(models.Model):
    """One thing to change so the cause stays fixed: an owner, a due date and, once done, a done date.
    `remind_at` is the next moment the follow-up engine acts on it (reminder, then escalation)."""

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="actions")
    description = models.CharField(max_length=300)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="corrective_actions")
    due_on = models.DateField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    remind_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [
            # Serves the engine's pass: only actions not done with something due, by due moment.
            models.Index(fields=["remind_at"], name="action_due", condition=Q(done_at__isnull=True, remind_at__isnull=False)),
        ]

    def __str__(self):
        return self.description

    @property
    def is_done(self):
        return self.done_at is not None

    def is_overdue(self, today):
        """Not done, and its due day has passed: the one rule, as `overdue_condition` for queries."""
        return self.done_at is None and self.due_on < today


def overdue_condition(today, via=""):
    """Corrective actions not done whose due day (a day in the app's time zone, as due dates are checked
    when an action is added) has passed; `via` is the path from the queried model, e.g. "actions__"."""
    return Q(**{f"{via}done_at__isnull": True, f"{via}due_on__lt": today})


class ProblemEvent(models.Model):
    """The problem's own timeline (opened, status changed, action added or done, fix marked, incident
    linked, recurred, closed), append-only; helpdesk sends these as `problem.*` webhooks."""

    class Kind(models.TextChoices):
        OPENED = "opened", gettext_lazy("Opened")
        CHANGED = "changed", gettext_lazy("Details changed")
        STATUS_CHANGED = "status_changed", gettext_lazy("Status changed")
        ACTION_ADDED = "action_added", gettext_lazy("Corrective action added")
        ACTION_DONE = "action_done", gettext_lazy("Corrective action done")
        ACTION_OVERDUE = "action_overdue", gettext_lazy("Corrective action overdue")
        FIX_MARKED = "fix_marked", gettext_lazy("Fix marked done")
        INCIDENT_LINKED = "incident_linked", gettext_lazy("Incident linked")
        CLOSE_PROPOSED = "close_proposed", gettext_lazy("Closing proposed")
        RECURRED = "recurred", gettext_lazy("Recurred after closing")
        IDEA_ATTACHED = "idea_attached", gettext_lazy("Customer's idea attached")
        THANKED = "thanked", gettext_lazy("Customers thanked")

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=30, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    summary = models.CharField(max_length=300)
    after = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["problem", "at"], name="problem_event_by_problem")]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Problem events are append-only.")
        super().save(*args, **kwargs)


class CustomerIdea(models.Model):
    """What a customer suggested (in the review, or in their satisfaction answer), attached to a problem.
    When the problem is fixed the owner is offered a thank-you to the customer ("you told us …, we changed …")."""

    class Source(models.TextChoices):
        REVIEW = "review", gettext_lazy("The review")
        SURVEY = "survey", gettext_lazy("Their satisfaction answer")
        STAFF = "staff", gettext_lazy("Noted by staff")

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="ideas")
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="+")
    text = models.TextField()
    source = models.CharField(max_length=20, choices=Source.choices)
    attached_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    attached_at = models.DateTimeField()
    # The thank-you: a customer message when outreach could send one, else a task for the owner.
    thanked_at = models.DateTimeField(null=True, blank=True)
    thank_you_message = models.ForeignKey("outreach.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["attached_at", "id"]
        constraints = [models.UniqueConstraint(fields=["problem", "incident", "source"], name="idea_once_per_source")]
