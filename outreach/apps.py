"""The customer's door: what Recovery sends the customer (progress reports, the wrap-up note, the
satisfaction check, thanks), how it is sent (email, text message), the customer's consent, and the
public satisfaction page. It stands on the recovery record (`incidents`); the record imports nothing
from here."""

from django.apps import AppConfig


class OutreachConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "outreach"
    verbose_name = "Messages to customers"

    def ready(self):
        from incidents.customer_data import also_redact

        from .services import redact_messages
        from .survey import redact_answers

        # The customer's suggestion and the messages sent to them are their data: anonymizing them removes both.
        also_redact(redact_answers)
        also_redact(redact_messages)
