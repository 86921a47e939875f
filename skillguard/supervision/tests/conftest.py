"""Fixtures of the supervision tests."""
from skillguard.supervision.tests.helpers import test_rules  # noqa: F401 - a fixture
