"""Reminders, notifications and their deliveries: what the follow-up engine did, and to whom.

A Reminder records that the engine acted on one moment of one incident; its unique constraint on
(incident, kind, due_at) is what makes a repeated or concurrent sweep harmless. A Notification is a
message to one member of staff, shown in their inbox. A Delivery carries a notification over one
more channel (email) and records each attempt, so nothing is lost when delivery fails and a retry
never sends twice.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from incidents import clock


class Reminder(models.Model):
    class Kind(models.TextChoices):
        INTERNAL_ALERT = clock.INTERNAL_ALERT, _("Internal alert to the location's staff")
        HEADS_UP = clock.HEADS_UP, _("Heads-up before the window ends")
        TWENTY_MINUTE = clock.TWENTY_MINUTE, _("Window missed: breach and escalation to managers")
        ESCALATE_ADMINS = clock.ESCALATE_ADMINS, _("Escalation to the organization's admins")
        PROGRESS_REPORT = clock.PROGRESS_REPORT, _("Progress report due")
        # The day's progress report went unsent by the end of the location's day (outreach's pass).
        PROGRESS_MISSED = "progress_missed", _("Progress report missed: escalation to managers")
        CHECK_BACK = clock.CHECK_BACK, _("Check-back due")
        WRAP_UP = clock.WRAP_UP, _("Wrap-up note due")

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(help_text=_("When the sweep acted on it."))

    class Meta:
        constraints = [
            # One reminder per incident, kind and due time: a second sweep over the same moment,
            # or two sweeps at once, cannot act twice.
            models.UniqueConstraint(fields=["incident", "kind", "due_at"], name="reminder_once_per_moment")
        ]
        ordering = ["due_at", "id"]

    def __str__(self):
        return f"{self.get_kind_display()} at {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def lateness(self):
        return self.sent_at - self.due_at


class Notification(models.Model):
    """One message to one member of staff; the row is the in-app delivery."""

    class Kind(models.TextChoices):
        INTERNAL_ALERT = "internal_alert", _("Internal alert")
        HEADS_UP = "heads_up", _("Heads-up")
        WINDOW_MISSED = "window_missed", _("Window missed")
        ESCALATION = "escalation", _("Escalation")
        PROGRESS_REPORT = "progress_report", _("Progress report due")
        PROGRESS_MISSED = "progress_missed", _("Progress report missed")
        CHECK_BACK = "check_back", _("Check back")
        WRAP_UP = "wrap_up", _("Wrap-up note")
        # About a problem (problems app): a new incident matched it, an action is due or overdue, the
        # verdict proposes closing or the problem recurred, customers wait for a thank-you.
        KNOWN_PROBLEM = "known_problem", _("Known problem happened again")
        ACTION_DUE = "action_due", _("Corrective action due")
        ACTION_OVERDUE = "action_overdue", _("Corrective action overdue")
        PROBLEM_UPDATE = "problem_update", _("Problem update")
        # A large CSV export (insights) is written and can be downloaded.
        EXPORT_READY = "export_ready", _("Export ready")
        # A gesture over budget was still waiting for a manager when its recovery closed.
        GESTURE_LAPSED = "gesture_lapsed", _("Gesture lapsed undecided")

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    # Empty for a notification about something other than one incident (a problem's action); `link` then
    # says where it leads.
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="notifications",
                                 null=True, blank=True)
    link = models.CharField(max_length=300, blank=True, help_text=_("Where the notification leads, when not an incident."))
    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="notifications", null=True)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField()
    # The wrap-up note drafted for the owner to personalize; empty for other kinds.
    draft = models.TextField(blank=True)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    # One message per moment and recipient, whatever retries or repeated sweeps happen; it is also
    # the email's Message-ID, so a mail server can drop a copy sent after a crash.
    dedupe_key = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notification_inbox"),
            # Serves the unread count in the page header, asked on every page.
            models.Index(fields=["recipient"], name="notification_unread", condition=Q(read_at__isnull=True)),
        ]

    def __str__(self):
        return self.title

    @property
    def is_read(self):
        return self.read_at is not None


class Delivery(models.Model):
    """A notification carried over one channel beyond the inbox, with its attempts.

    `next_attempt_at` means: while pending, when the sweep should (re)queue it if no task took
    it; while sending, when the claim of a worker that may have died lapses.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="delivery_once_per_channel")
        ]
        indexes = [
            # Serves the sweep's backstop: deliveries no task has finished by their time.
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_unfinished",
                condition=Q(state__in=["pending", "sending"]),
            )
        ]
        verbose_name_plural = "deliveries"

    def __str__(self):
        return f"{self.get_channel_display()} for notification {self.notification_id}: {self.get_state_display()}"


class SweepFailure(models.Model):
    """An incident the sweep could not act on, kept so one bad row is visible instead of looping."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="sweep_failures")
    failed_at = models.DateTimeField()
    error = models.TextField()

    class Meta:
        ordering = ["-failed_at"]


class EngineHeartbeat(models.Model):
    """When a periodic pass last finished, so `/healthz` can tell a stopped beat or worker."""

    name = models.CharField(max_length=50, primary_key=True)
    last_run_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} last ran at {self.last_run_at:%Y-%m-%d %H:%M:%S}"
