"""Problems: the managers' way from a cluster on the trends page to a root cause fixed for good.

It stands on the record (`incidents`), the follow-up engine and the managers' console (`insights`); none of
them imports it. It hooks in from `ready()`: new incidents are matched as they are logged, its corrective
actions are one more clock of the engine's sweep, and its copies of customers' words are scrubbed when a
customer is anonymized. Pages that show problems (the incident page, the trends, the console, the digest)
load its template tags.
"""

from django.apps import AppConfig


class ProblemsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "problems"

    def ready(self):
        from followups.services import also_sweep
        from incidents.customer_data import also_redact
        from incidents.services.incident_logging import also_when_logged

        from . import services

        also_when_logged(services.link_new_incident)
        also_sweep(services.sweep_problems)
        also_redact(services.redact_ideas)
