"""Fold the managers' rollups again from the incidents: after a bulk load, or after an upgrade that changes
what a rollup row holds (the heatmap's hours moved from when a failure was logged to when it happened)."""

from django.core.management.base import BaseCommand

from insights import rollups


class Command(BaseCommand):
    help = "Rebuild the managers' rollups (scorecard and trends) from the incidents."

    def handle(self, *args, **options):
        folded = rollups.rebuild()
        self.stdout.write(f"Rollups rebuilt: {folded} location-days folded.")
