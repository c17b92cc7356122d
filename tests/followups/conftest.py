import datetime

import pytest
from django.utils import timezone

from followups import services
from tests.conftest import START

MINUTE = datetime.timedelta(minutes=1)
SECOND = datetime.timedelta(seconds=1)
DAY = datetime.timedelta(days=1)


@pytest.fixture
def sweep_at(clock_at_start):
    """Move the clock to `offset` after the start (14:00) and run one sweep pass there."""

    def run(offset):
        clock_at_start.move_to(START + offset)
        return services.sweep(now=timezone.now())

    return run


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    """Staff here never log in with a password, except on pages, where a fast hash is enough."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
