"""Rotate an API client's token: a new one that works at once, printed as the last line; the old one keeps
working for a while (24 hours unless told), so the integration can switch over without a failed request."""

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from helpdesk import tokens
from incidents.models import Organization
from incidents.services import RecoveryError
from organization_settings import services


class Command(BaseCommand):
    help = "Rotate an API client's token and print the new one (last line); the old one stops after --keep-old-for hours."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The API client's name, e.g. 'Helpdesk'.")
        parser.add_argument("--organization", required=True, help="The organization's slug.")
        parser.add_argument("--token", default="", help="The prefix of the token to rotate (e.g. rcv_1a2b3c4d); needed when the client has several working tokens.")
        parser.add_argument("--keep-old-for", type=float, default=tokens.DEFAULT_OVERLAP.total_seconds() / 3600,
                            help="Hours the old token keeps working (default 24; 0 stops it now).")

    def handle(self, *args, name, organization, token, keep_old_for, **options):
        try:
            org = Organization.objects.get(slug=organization)
        except Organization.DoesNotExist:
            raise CommandError(f"No organization with slug '{organization}'.") from None
        client = services.api_client_named(org, by=None, name=name)
        if client is None:
            raise CommandError(f"No API client '{name}' in {org.name}.")
        working = [each for each in tokens.live_tokens(client) if not token or each.prefix == token.rstrip("…")]
        if not working:
            raise CommandError(f"{client.name} has no working token{' with that prefix' if token else ''}; create_api_client issues one.")
        if len(working) > 1:
            raise CommandError(f"{client.name} has several working tokens; say which with --token: "
                               + ", ".join(each.prefix for each in working))
        (old,) = working
        try:
            _, key = services.rotate_api_token(old, by=None, keep_old_for=datetime.timedelta(hours=keep_old_for))
        except RecoveryError as error:
            raise CommandError(f"Could not rotate the token: {error.message}") from error
        old.refresh_from_db()
        ends = timezone.localtime(old.expires_at, datetime.timezone.utc)
        self.stdout.write(f"New token for {client.name}; the old one ({old.prefix}…) works until {ends:%Y-%m-%d %H:%M} UTC.")
        self.stdout.write(key)
