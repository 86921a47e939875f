import pytest


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """build_world creates a dozen users: PBKDF2 would dominate the run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
