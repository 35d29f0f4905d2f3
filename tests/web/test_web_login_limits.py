"""Sign-in attempts are limited per username and client address, in the database so that every
web process counts the same failures; the refusal says what happened and when to try again."""

from __future__ import annotations

import datetime as dt

from django.test import Client
from django.utils import timezone

from dealgate.people.models import LoginThrottle


def sign_in(client, username, password, address="10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_it_refuses_the_sixth_attempt_after_five_failures_even_with_the_right_password(client, world, settings):
    settings.DEALGATE_LOGIN_MAX_FAILURES = 5
    for _ in range(5):
        assert sign_in(client, "alice", "wrong").status_code == 200
    refused = sign_in(client, "alice", world.password)
    assert refused.status_code == 429
    assert b"Too many failed sign-ins" in refused.content and b"15 minutes" in refused.content
    assert "_auth_user_id" not in client.session


def test_another_process_sees_the_same_count(world, settings):
    settings.DEALGATE_LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        sign_in(Client(), "alice", "wrong")  # a new client each time, as if each went to another web process
    assert sign_in(Client(), "alice", world.password).status_code == 429


def test_it_limits_only_that_username_from_that_address(client, world, settings):
    settings.DEALGATE_LOGIN_MAX_FAILURES = 2
    for _ in range(2):
        sign_in(client, "alice", "wrong", address="10.0.0.1")
    assert sign_in(Client(), "alice", world.password, address="10.0.0.2").status_code == 302
    assert sign_in(Client(), "bob", world.password, address="10.0.0.1").status_code == 302
    assert sign_in(Client(), "ALICE ", world.password, address="10.0.0.1").status_code == 429


def test_it_lets_the_user_in_again_once_the_window_has_passed(client, world, settings):
    settings.DEALGATE_LOGIN_MAX_FAILURES = 2
    settings.DEALGATE_LOGIN_WINDOW_SECONDS = 600
    for _ in range(2):
        sign_in(client, "alice", "wrong")
    LoginThrottle.objects.update(window_started_at=timezone.now() - dt.timedelta(seconds=601))
    assert sign_in(client, "alice", world.password).status_code == 302
    assert not LoginThrottle.objects.exists()  # a successful sign-in clears the count


def test_a_success_before_the_limit_starts_the_count_again(client, world, settings):
    settings.DEALGATE_LOGIN_MAX_FAILURES = 3
    for _ in range(2):
        sign_in(client, "alice", "wrong")
    assert sign_in(client, "alice", world.password).status_code == 302
    client.post("/logout/")
    for _ in range(2):
        sign_in(client, "alice", "wrong")
    assert sign_in(client, "alice", world.password).status_code == 302


def test_the_admin_sign_in_is_limited_too(world, settings):
    settings.DEALGATE_LOGIN_MAX_FAILURES = 2
    admin = Client()
    for _ in range(2):
        admin.post("/admin/login/", {"username": "dave", "password": "wrong"}, REMOTE_ADDR="10.0.0.9")
    response = admin.post("/admin/login/", {"username": "dave", "password": world.password}, REMOTE_ADDR="10.0.0.9")
    assert b"Too many failed sign-ins" in response.content
