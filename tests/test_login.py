"""The app's sign-in page. Throttling from every side is in test_sign_in.py."""

import datetime

from tests.factories import PASSWORD


def test_staff_log_in_and_land_on_their_recoveries(client, frontline):
    response = client.post("/login/", {"login": "fran", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_a_wrong_password_keeps_the_username_and_explains(client, frontline):
    response = client.post("/login/", {"login": "fran", "password": "nope"})
    assert response.status_code == 200
    assert "username and/or password you specified are not correct" in response.content.decode()
    assert 'value="fran"' in response.content.decode()


def test_after_five_failures_from_here_even_the_right_password_waits_here(client, frontline, clock_at_start):
    for _ in range(5):
        client.post("/login/", {"login": "fran", "password": "nope"})
    response = client.post("/login/", {"login": "fran", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_four_failures_then_success_resets_the_count(client, frontline):
    for _ in range(4):
        client.post("/login/", {"login": "fran", "password": "nope"})
    assert client.post("/login/", {"login": "fran", "password": PASSWORD}).status_code == 302
    client.logout()
    for _ in range(4):
        client.post("/login/", {"login": "fran", "password": "nope"})
    assert client.post("/login/", {"login": "fran", "password": PASSWORD}).status_code == 302


def test_the_lockout_ends_fifteen_minutes_after_the_last_failure(client, frontline, clock_at_start):
    for _ in range(5):
        client.post("/login/", {"login": "fran", "password": "nope"})
    clock_at_start.shift(datetime.timedelta(minutes=14))
    assert client.post("/login/", {"login": "fran", "password": PASSWORD}).status_code == 429
    clock_at_start.shift(datetime.timedelta(minutes=2))
    assert client.post("/login/", {"login": "fran", "password": PASSWORD}).status_code == 302
