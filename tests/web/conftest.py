import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The world fixture creates four users per test; PBKDF2's deliberate slowness is not under test here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
