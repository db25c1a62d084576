"""Test helpers shared across the suite: fake external services that run for real on localhost."""
