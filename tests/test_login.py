import pytest
from django.core.cache import cache

from tests.factories import PASSWORD


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_staff_log_in_and_land_on_their_recoveries(client, frontline):
    response = client.post("/login/", {"username": "fran", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_a_wrong_password_keeps_the_username_and_explains(client, frontline):
    response = client.post("/login/", {"username": "fran", "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()
    assert 'value="fran"' in response.content.decode()


def test_after_five_failures_even_the_right_password_waits(client, frontline, clock_at_start):
    for _ in range(5):
        client.post("/login/", {"username": "fran", "password": "nope"})
    response = client.post("/login/", {"username": "fran", "password": PASSWORD})
    assert response.status_code == 200
    assert "Too many failed attempts" in response.content.decode()


def test_four_failures_then_success_resets_the_count(client, frontline):
    for _ in range(4):
        client.post("/login/", {"username": "fran", "password": "nope"})
    assert client.post("/login/", {"username": "fran", "password": PASSWORD}).status_code == 302
    client.logout()
    for _ in range(4):
        client.post("/login/", {"username": "fran", "password": "nope"})
    assert client.post("/login/", {"username": "fran", "password": PASSWORD}).status_code == 302


def test_the_lockout_ends_after_fifteen_minutes(client, frontline, clock_at_start):
    import datetime

    for _ in range(5):
        client.post("/login/", {"username": "fran", "password": "nope"})
    clock_at_start.shift(datetime.timedelta(minutes=14))
    assert client.post("/login/", {"username": "fran", "password": PASSWORD}).status_code == 200
    clock_at_start.shift(datetime.timedelta(minutes=2))
    assert client.post("/login/", {"username": "fran", "password": PASSWORD}).status_code == 302
