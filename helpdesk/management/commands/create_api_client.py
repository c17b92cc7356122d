"""Create an API client for a helpdesk integration, or issue one more token for an existing one; the
token is printed as the last line."""

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from helpdesk.models import ApiToken
from incidents.models import Organization
from incidents.services import RecoveryError
from organization_settings import services


class Command(BaseCommand):
    help = ("Create an API client belonging to one organization and print its token (last line). Run again "
            "with the same name, it prints a new token for that client; its other tokens keep working.")

    def add_arguments(self, parser):
        parser.add_argument("name", help="What the integration is, e.g. 'Helpdesk'.")
        parser.add_argument("--organization", required=True, help="The organization's slug.")
        parser.add_argument("--rate-limit", type=int, default=None, help="Requests per minute of a new client (default 600).")
        parser.add_argument("--scope", choices=ApiToken.Scope.values, default=ApiToken.Scope.WRITE,
                            help="read: the token may only read; write (default): read and write.")
        parser.add_argument("--expires-in-days", type=int, default=None, help="The token stops working after this many days (default: never).")

    def handle(self, *args, name, organization, rate_limit, scope, expires_in_days, **options):
        try:
            org = Organization.objects.get(slug=organization)
        except Organization.DoesNotExist:
            raise CommandError(f"No organization with slug '{organization}'.") from None
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be 1 or more.")
        expires_at = timezone.now() + datetime.timedelta(days=expires_in_days) if expires_in_days else None
        existing = services.api_client_named(org, by=None, name=name)
        try:
            if existing is None:
                client, key = services.add_api_client(org, by=None, name=name, rate_limit_per_minute=rate_limit,
                                                      scope=scope, expires_at=expires_at)
                said = f"API client '{client.name}' for {org.name} created."
            else:
                client = existing
                token, key = services.add_api_token(client, by=None, scope=scope, expires_at=expires_at)
                said = (f"API client '{client.name}' for {org.name} already exists: a new {scope} token {token.prefix}… is issued; "
                        f"its other tokens keep working (rotate_api_token or Settings → API clients retires them).")
        except RecoveryError as error:
            raise CommandError(f"Could not issue the token: {error.message}") from error
        self.stdout.write(f"{said} Send: Authorization: Token <token>")
        self.stdout.write(key)
