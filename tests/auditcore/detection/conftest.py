import pytest

from auditcore.detection import response


@pytest.fixture(params=["default", "pure_re"])
def response_path(request):
    """Run a test on the installed path (google-re2 pre-filters when available) and on the
    pure-`re` fallback, so the fallback is tested whether or not google-re2 is installed."""
    if request.param == "default":
        yield request.param
    else:
        with response._without_prefilters():
            yield request.param
