"""Compile the translations' .po catalogues to .mo: msgfmt when installed, else pure Python (polib).

Part of `make run` and `make test` (see the Makefile), so a fresh machine never serves untranslated pages.
"""

from django.conf import settings
from django.core.management.base import BaseCommand

from recovery import translations


class Command(BaseCommand):
    help = "Compile locale/*/LC_MESSAGES/*.po to .mo (only those changed since the last time)."

    def add_arguments(self, parser):
        parser.add_argument("--without-msgfmt", action="store_true",
                            help="Compile with polib even where GNU gettext's msgfmt is installed.")
        parser.add_argument("--all", action="store_true", help="Compile every catalogue, changed or not.")

    def handle(self, *args, without_msgfmt=False, all=False, **options):
        use_msgfmt = False if without_msgfmt else None
        chosen = translations.catalogues if all else translations.stale_catalogues
        for po in chosen(settings.LOCALE_PATHS):
            translations.compile_catalogue(po, use_msgfmt=use_msgfmt)
            self.stdout.write(f"Compiled {po}")
