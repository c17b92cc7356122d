"""Attachments: photos and files of a failure (the cold plate, the broken part, the receipt).

It stands on the record (`incidents`); the record never imports it. The pages and the API call its
services; it hooks into anonymizing from `ready()` so a customer's photos go with the rest of their data,
and the incident page shows them through its template tag (`{% load attachments %}`).
"""

from django.apps import AppConfig


class AttachmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "attachments"

    def ready(self):
        from incidents.customer_data import also_export, also_redact

        from . import services

        also_redact(services.redact_attachments)
        also_export(services.export_attachments)
