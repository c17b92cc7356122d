"""Real Chromium through Playwright, for pages a person uses.

Playwright's own browser download cannot run everywhere, so the tests drive the system's
Chromium (`apt-get install chromium`). Screenshots go to tests/artifacts/ for a person to look at.
"""
import os
import pathlib

import pytest

from tests.factories import PASSWORD

ARTIFACTS = pathlib.Path(__file__).resolve().parent.parent / "artifacts"
PHONE = {"width": 375, "height": 812}

# Playwright's sync API runs an event loop in the test's thread, while the test's own database calls
# (and pytest-django's clean-up after each test) stay synchronous. Test processes only: the deploy
# check in tests/test_security.py runs without it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    }


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot under tests/artifacts/NAME.png."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name, target=None):
        (target or page).screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def log_in(page, live_server):
    """Log a user in through the real login form; made by the factories (password PASSWORD)."""

    def run(user, target=None):
        target = target or page
        target.goto(f"{live_server.url}/login/")
        target.get_by_label("Username").fill(user.username)
        target.get_by_label("Password").fill(PASSWORD)
        target.get_by_role("button", name="Log in").click()
        target.wait_for_url(f"{live_server.url}/**")
        return target

    return run
