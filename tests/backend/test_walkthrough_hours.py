"""The README walkthrough's "open right now" steps answer something at every hour of a week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.places.service import NearbyQuery, find_nearby_places

BANK_STATION = (51.5133, -0.0890)
RAFFLES_PLACE = (1.2840, 103.8514)


def test_open_now_steps_are_never_empty_over_a_week(session, sample_places):
    start = datetime(2026, 11, 30, tzinfo=UTC)  # a Monday, 00:00 UTC
    hours = [start + timedelta(minutes=30 * i) for i in range(7 * 48)]
    anything_open = NearbyQuery(*BANK_STATION, radius_m=5000, limit=3, open_now=True)
    cash_open = NearbyQuery(*RAFFLES_PLACE, radius_m=5000, limit=3, open_now=True,
                            methods=("cash",), repayment_only=True)
    branches = NearbyQuery(*BANK_STATION, radius_m=5000, limit=3, kinds=("branch",))
    for now in hours:
        assert find_nearby_places(session, anything_open, now).features, now
        assert find_nearby_places(session, cash_open, now).features, now
        page = find_nearby_places(session, branches, now).features
        assert len(page) == 3 and all("next_change" in f["properties"] for f in page), now
    # And the reason the walkthrough does not ask for open branches: at night there are none.
    night = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    open_branches = NearbyQuery(*BANK_STATION, radius_m=5000, limit=3, kinds=("branch",),
                                open_now=True)
    assert find_nearby_places(session, open_branches, night).features == []
