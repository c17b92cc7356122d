#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recovery.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # loads the settings, which read the environment
    except ImproperlyConfigured as error:
        # A missing or wrong environment variable: say which, without a traceback through Django's internals.
        sys.exit(f"Recovery cannot start: {error}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
