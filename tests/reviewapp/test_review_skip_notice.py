"""A skipped item that comes back says so: "you skipped this item earlier" (it used to be lost)."""

import pytest
from django.urls import reverse

from auditcore.models import Lease
from tests.support.review_round import items_of, make_round

pytestmark = pytest.mark.django_db
NOTICE = "you skipped this item earlier"
HX = {"HTTP_HX_REQUEST": "true"}


def test_a_skipped_item_that_comes_back_shows_the_notice(client, reviewer):
    item = items_of(make_round(items=1))[0]
    client.force_login(reviewer)
    first = client.get(reverse("review:queue")).content.decode()
    assert f"/review/items/{item.pk}/verdict" in first
    assert NOTICE not in first

    # Skipping the only item hands it straight back: now with the notice.
    back = client.post(reverse("review:skip", args=[item.pk]), **HX).content.decode()
    assert f"/review/items/{item.pk}/verdict" in back
    assert NOTICE in back
    # The lease is live again (not stuck as skipped) and the notice survives a reload.
    lease = Lease.objects.get(item=item, reviewer=reviewer)
    assert lease.skipped_at is None and lease.skips == 1
    again = client.get(reverse("review:queue")).content.decode()
    assert f"/review/items/{item.pk}/verdict" in again
    assert NOTICE in again


def test_an_item_never_skipped_has_no_notice(client, reviewer):
    items = items_of(make_round(items=2))
    client.force_login(reviewer)
    client.get(reverse("review:queue"))
    # Skip the first: the second comes up, never skipped, so no notice.
    response = client.post(reverse("review:skip", args=[items[0].pk]), **HX).content.decode()
    assert f"/review/items/{items[1].pk}/verdict" in response
    assert NOTICE not in response
