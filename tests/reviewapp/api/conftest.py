"""API test fixtures: throttle counters start empty in every test."""

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_throttle_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def generous_throttles(settings):
    """Throttles high enough that generated traffic measures the API, not the rate limits."""
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates.update(dict.fromkeys(rates, "100000/min"))
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    from rest_framework.throttling import SimpleRateThrottle

    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates
    yield
    SimpleRateThrottle.THROTTLE_RATES = original
