"""The helpdesk's door: the REST API at /api/v1/, its clients, idempotency, throttling and the webhook
outbox. It stands on the recovery record (`incidents`) and on `followups`; neither imports it."""

from django.apps import AppConfig
from django.db.models.signals import post_save


class HelpdeskConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "helpdesk"
    verbose_name = "Helpdesk API"

    def ready(self):
        from incidents.customer_data import also_redact
        from followups.models import Reminder
        from incidents.models import Event
        from problems.models import ProblemEvent

        from . import webhooks
        from .services import redact_api_copies

        also_redact(redact_api_copies)
        # Webhooks go out as soon as a timeline event, a reminder or a problem's timeline entry commits;
        # none of those apps knows of them.
        for model in (Event, Reminder, ProblemEvent):
            post_save.connect(webhooks.on_saved, sender=model, dispatch_uid=f"helpdesk.webhooks.on_saved.{model.__name__}")
