from django.core.management.base import BaseCommand
from django.utils import timezone

from incidents import demo
from incidents.models import Incident


class Command(BaseCommand):
    help = "Build the demo organization with eight weeks of recoveries (does nothing if it exists)."

    def handle(self, *args, **options):
        organization, created = demo.seed(timezone.now())
        count = Incident.objects.filter(organization=organization).count()
        verb = "Built" if created else "Already there:"
        self.stdout.write(f"{verb} demo organization '{organization.name}' with {count} incidents.")
        self.stdout.write("Demo logins (demo data only):")
        self.stdout.write(f"  frontline / {demo.DEMO_PASSWORD}   (frontline staff at Riverside)")
        self.stdout.write(f"  manager   / {demo.DEMO_PASSWORD}   (manager of all three locations)")
        self.stdout.write(f"  admin     / {demo.DEMO_PASSWORD}   (organization admin: Settings)")
        self.stdout.write(f"  operator  / {demo.DEMO_PASSWORD}   (runs the service: /admin/)")
        self.stdout.write("Open http://127.0.0.1:8000/ to log in.")
