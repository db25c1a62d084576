"""The replay pages' corpus and gate decision, shared by the replay, trend and viewer tests."""

import pytest

from tests.support.replay_data import never_refuse_corpus, refuses_set_decision


@pytest.fixture
def corpus(safety_lead):
    return never_refuse_corpus(safety_lead)


@pytest.fixture
def decision(safety_lead, corpus):
    return refuses_set_decision(safety_lead, corpus)
