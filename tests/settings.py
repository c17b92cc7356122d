"""The app's settings for a test run, with the environment a test run stands in for.

Production refuses to start without its own SECRET_KEY and redirects plain HTTP to HTTPS when DEBUG is off,
as it is in tests. pytest-django loads the settings before any conftest.py, so this module is the first place
a test run can say what it needs. It writes into os.environ, so the processes tests start (gunicorn, Celery,
manage.py, pytest-xdist's workers) inherit the same values and load recovery.settings itself.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-recovery-key-never-used-outside-a-test-run-4f9c2a7e1b")
# The test client, the live server the browser tests open and the fault tests' gunicorn speak plain HTTP,
# as the app behind a TLS proxy does. Set, not defaulted: a shell left with production values must not
# turn every test's request into a redirect. Tests of the redirect and the cookies set them themselves.
os.environ["SECURE_SSL_REDIRECT"] = "0"
os.environ["SESSION_COOKIE_SECURE"] = "0"
os.environ["CSRF_COOKIE_SECURE"] = "0"
# Importing the recovery package starts the Celery app, which reads Django's settings while this module is
# still loading: pointed at recovery.settings, that read finds the complete settings (the same values).
os.environ["DJANGO_SETTINGS_MODULE"] = "recovery.settings"

from recovery.settings import *  # noqa: E402,F401,F403
