"""Create an API client for a helpdesk integration; the token is printed as the last line."""

from django.core.management.base import BaseCommand, CommandError

from helpdesk import services
from incidents.models import Organization


class Command(BaseCommand):
    help = "Create an API client belonging to one organization and print its token (last line)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="What the integration is, e.g. 'Helpdesk'.")
        parser.add_argument("--organization", required=True, help="The organization's slug.")
        parser.add_argument("--rate-limit", type=int, default=None, help="Requests per minute (default 600).")

    def handle(self, *args, name, organization, rate_limit, **options):
        try:
            org = Organization.objects.get(slug=organization)
        except Organization.DoesNotExist:
            raise CommandError(f"No organization with slug '{organization}'.") from None
        try:
            client, key = services.create_api_client(organization=org, name=name, rate_limit_per_minute=rate_limit)
        except Exception as error:
            raise CommandError(f"Could not create the client: {error}") from error
        self.stdout.write(f"API client '{client.name}' for {org.name} created. Send: Authorization: Token <token>")
        self.stdout.write(key)
