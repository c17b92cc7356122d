import datetime
import os
import shutil
import uuid

import pytest
import time_machine
from django.utils import timezone

from organization_settings import services as settings_services
from tests import factories
from tests.oidc_provider import OIDCProvider

START = datetime.datetime(2026, 3, 4, 14, 0, tzinfo=datetime.timezone.utc)  # a Wednesday afternoon


@pytest.fixture(autouse=True)
def private_default_cache(settings):
    """Each test gets an empty default cache of its own. The configured one (Redis in CI) is shared
    by every test process, and clearing it would empty the broker's Redis database too."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"test-{uuid.uuid4().hex}"},
    }


@pytest.fixture(autouse=True)
def english_to_begin_with():
    """Each test starts in English, whatever language an earlier test's request or code left active in
    this thread (LocaleMiddleware activates the request's language and leaves it)."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def attachments_storage(settings, tmp_path):
    """Photos and files a test attaches go to a folder of its own, never under var/."""
    settings.STORAGES = {**settings.STORAGES, "attachments": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "attachments"), "base_url": None}}}
    return tmp_path / "attachments"


@pytest.fixture
def eager_celery():
    """Tasks run in-process when queued, as a worker would run them."""
    from recovery.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous


@pytest.fixture
def organization(db):
    return factories.OrganizationFactory(name="Harbour Hotels", slug="harbour")


@pytest.fixture
def location(organization):
    return factories.LocationFactory(organization=organization, name="Riverside", code="riverside", region="South")


@pytest.fixture
def other_location(organization):
    return factories.LocationFactory(organization=organization, name="Hilltop", code="hilltop", region="North")


@pytest.fixture
def frontline(organization, location):
    return factories.UserFactory(username="fran", organization=organization, locations=[location])


@pytest.fixture
def manager(organization, location):
    return factories.UserFactory(username="mona", organization=organization, role="manager", locations=[location])


@pytest.fixture
def admin(organization):
    """The organization's admin: sees every location, and has every page of Settings."""
    return factories.UserFactory(username="ada-admin", organization=organization, role="admin")


@pytest.fixture
def colleague(organization, location):
    """Someone else on the Riverside team, who may serve the customer next."""
    return factories.UserFactory(username="cole", organization=organization, locations=[location])


@pytest.fixture
def customer(organization):
    return factories.CustomerFactory(organization=organization, name="Ada Lovelace", email="ada@example.com")


@pytest.fixture
def clock_at_start():
    """Freeze time at a known Wednesday 14:00 UTC; tests move it with `.move_to` / `.shift`."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def incident(frontline, location, customer, clock_at_start):
    return factories.log_incident(user=frontline, location=location, customer=customer, now=timezone.now())


def pytest_sessionstart(session):
    """The translations' .mo files compiled from the .po catalogues when missing or older: `make test` does
    it first, this covers a bare `pytest` on a fresh checkout (the .mo files are not in the repository)."""
    from django.conf import settings

    from recovery import translations

    translations.compile_stale(settings.LOCALE_PATHS)


def pytest_collection_modifyitems(config, items):
    """Browser tests need Chromium. Without it they are skipped with a clear reason, unless
    RECOVERY_REQUIRE_BROWSER is set (CI), where a missing browser is a failure."""
    if shutil.which("chromium") or os.path.exists("/usr/bin/chromium"):
        return
    browser_items = [item for item in items if "browser" in item.keywords]
    if not browser_items:
        return
    if os.environ.get("RECOVERY_REQUIRE_BROWSER"):
        raise pytest.UsageError("Chromium is required for browser tests but /usr/bin/chromium is missing.")
    skip = pytest.mark.skip(reason="Chromium not installed (apt-get install chromium): browser tests skipped")
    for item in browser_items:
        item.add_marker(skip)
    config.pluginmanager.get_plugin("terminalreporter").write_line(
        f"NOTE: {len(browser_items)} browser tests skipped: Chromium is not installed.", yellow=True
    )


# --- Single sign-on: a real OpenID Connect provider on 127.0.0.1 (tests/oidc_provider.py) -------------


@pytest.fixture(scope="session")
def running_idp():
    with OIDCProvider() as idp:
        yield idp


@pytest.fixture
def idp(running_idp):
    running_idp.reset()
    yield running_idp
    running_idp.reset()


@pytest.fixture
def sign_on(settings, organization, admin, idp):
    """Harbour Hotels signs its staff in through the local provider; their emails end in @example.com."""
    settings.SINGLE_SIGN_ON_ALLOW_HTTP = True
    return settings_services.save_single_sign_on(organization, by=admin, issuer=idp.issuer, client_id=idp.client_id,
                                                 client_secret=idp.client_secret, email_domain="example.com")
