"""Messages to customers, each with every attempt to send it, and the customer's satisfaction answer."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy


class Message(models.Model):
    """One message to the customer of an incident: drafted, perhaps scheduled, sent by the worker.

    Written in the transaction of the step that causes it; the worker claims it before sending, so it
    goes out once, and retries a failure with backoff."""

    class Kind(models.TextChoices):
        PROGRESS_REPORT = "progress_report", gettext_lazy("Progress report")
        CHECK_BACK = "check_back", gettext_lazy("Check-back")
        WRAP_UP = "wrap_up", gettext_lazy("Wrap-up note")
        SATISFACTION_CHECK = "satisfaction_check", gettext_lazy("Satisfaction check")
        THANK_YOU = "thank_you", gettext_lazy("Thank-you")

    class Channel(models.TextChoices):
        EMAIL = "email", gettext_lazy("Email")
        SMS = "sms", gettext_lazy("Text message")

    class Status(models.TextChoices):
        DRAFT = "draft", gettext_lazy("Draft")
        SCHEDULED = "scheduled", gettext_lazy("Scheduled")
        SENDING = "sending", gettext_lazy("Sending")
        SENT = "sent", gettext_lazy("Sent")
        FAILED = "failed", gettext_lazy("Failed")
        BOUNCED = "bounced", gettext_lazy("Bounced")
        NOT_SENT = "not_sent", gettext_lazy("Not sent")  # the customer opted out, or has no address for the channel

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    to = models.CharField(max_length=254, blank=True, help_text=gettext_lazy("The address or E.164 number it was sent to."))
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(help_text=gettext_lazy("The text as sent."))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True,
                               blank=True, help_text=gettext_lazy("Who wrote and sent it; the customer's replies go to them."))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    status_note = models.CharField(max_length=300, blank=True, help_text=gettext_lazy("Why it was not sent, or the last error."))
    # Local day the draft is for (progress reports: one per incident per day).
    for_day = models.DateField(null=True, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=200, blank=True, help_text=gettext_lazy("The provider's id, to match bounces."))
    # Which worker's batch holds it while SENDING: one UPDATE claims a batch, and the worker then reads
    # back exactly the rows it won (two workers never share one).
    claim = models.UUIDField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "kind", "for_day"], condition=Q(for_day__isnull=False),
                                    name="message_once_per_incident_kind_day"),
        ]
        indexes = [
            # The worker's queue: what is due to go out.
            models.Index(fields=["next_attempt_at"], name="message_due",
                         condition=Q(status__in=["scheduled", "sending"])),
            # The provider's delivery reports find their message.
            models.Index(fields=["provider_id"], name="message_provider_id", condition=~Q(provider_id="")),
            # The worker reads back the batch it claimed.
            models.Index(fields=["claim"], name="message_claim", condition=Q(claim__isnull=False)),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.incident_id} ({self.status})"


class MessageAttempt(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    succeeded = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at", "id"]


class SurveyAnswer(models.Model):
    """The customer's verdict, from the public satisfaction page: one per incident, changeable for a day."""

    incident = models.OneToOneField("incidents.Incident", on_delete=models.CASCADE, related_name="survey_answer")
    feeling = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=gettext_lazy("How they feel about the business now: 1 (much worse) to 5 (better than before)."))
    would_recommend = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(10)], help_text=gettext_lazy("0 to 10: would come back and recommend us."))
    suggestion = models.TextField(blank=True, help_text=gettext_lazy("Is there anything we could do better?"))
    answered_at = models.DateTimeField()
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(feeling__gte=1, feeling__lte=5), name="survey_feeling_1_to_5"),
            models.CheckConstraint(condition=Q(would_recommend__gte=0, would_recommend__lte=10),
                                   name="survey_recommend_0_to_10"),
        ]
