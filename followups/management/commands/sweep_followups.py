from django.core.management.base import BaseCommand

from followups import services


class Command(BaseCommand):
    help = "Run one pass of the follow-up engine now (what Celery beat runs every few seconds) and print what it did."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=None, help="Incidents to act on at most in this pass.")

    def handle(self, *args, batch_size=None, **options):
        report = services.sweep(batch_size=batch_size)
        for line in report.lines():
            self.stdout.write(line)
