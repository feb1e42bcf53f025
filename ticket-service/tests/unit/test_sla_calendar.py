"""Business-minutes arithmetic, against moments computed by hand (Paris: UTC+1 in winter,
UTC+2 from 28 March 2027; open Monday to Friday 09:00-17:00; 1 January 2027 a holiday)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from ticket_service.sla.calendar import Calendar

UTC = timezone.utc
WEEKDAYS_9_TO_5 = tuple(((9 * 60, 17 * 60),) if d < 5 else () for d in range(7))
PARIS = Calendar("Europe/Paris", WEEKDAYS_9_TO_5, frozenset({date(2027, 1, 1)}))


def z(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("start,minutes,due", [
    # same day: Tue 10:00 local + 60 -> 11:00 local
    (z(2027, 1, 5, 9, 0), 60, z(2027, 1, 5, 10, 0)),
    # overnight: Tue 16:30 local, 30 min left that day, 30 on Wed from 09:00 -> Wed 09:30
    (z(2027, 1, 5, 15, 30), 60, z(2027, 1, 6, 8, 30)),
    # weekend: Fri 16:00 local, 60 on Friday, 60 on Monday -> Mon 10:00
    (z(2027, 1, 8, 15, 0), 120, z(2027, 1, 11, 9, 0)),
    # holiday: Thu 31 Dec 16:00 local, 60 on Thursday; Fri 1 Jan closed, weekend -> Mon 10:00
    (z(2026, 12, 31, 15, 0), 120, z(2027, 1, 4, 9, 0)),
    # started while closed (Sat 12:00 local): the clock starts Mon 09:00 -> Mon 09:45
    (z(2027, 1, 9, 11, 0), 45, z(2027, 1, 11, 8, 45)),
    # three full days from Mon 09:00 local (480 a day) -> Wed 17:00 local
    (z(2027, 1, 11, 8, 0), 3 * 480, z(2027, 1, 13, 16, 0)),
    # across the change to summer time (Sun 28 March): Fri 16:00 local (UTC+1) + 120
    # -> Mon 10:00 local (UTC+2) = 08:00 UTC
    (z(2027, 3, 26, 15, 0), 120, z(2027, 3, 29, 8, 0)),
])
def test_due_moments_computed_by_hand(start, minutes, due):
    assert PARIS.add(start, minutes * 60) == due
    # ... and back: the business time between is the target
    assert PARIS.between(start, due) == minutes * 60


def test_between_skips_nights_weekends_and_holidays():
    # Thu 31 Dec 12:00 local -> Mon 4 Jan 12:00 local: Thu 5 h, Fri holiday, Mon 3 h
    assert PARIS.between(z(2026, 12, 31, 11), z(2027, 1, 4, 11)) == 8 * 3600
    assert PARIS.between(z(2027, 1, 9, 0), z(2027, 1, 10, 23)) == 0        # a weekend
    assert PARIS.between(z(2027, 1, 5, 12), z(2027, 1, 5, 11)) == 0        # backwards


def test_negative_minutes_walk_back_over_closed_time():
    # Mon 10:00 local minus 120 business minutes -> Fri 16:00 local
    assert PARIS.add(z(2027, 1, 11, 9, 0), -120 * 60) == z(2027, 1, 8, 15, 0)


def test_the_default_calendar_counts_every_minute():
    start = z(2027, 1, 9, 23, 59)
    assert Calendar().add(start, 90) == start + timedelta(seconds=90)
    assert Calendar().between(start, start + timedelta(days=2)) == 2 * 86400


def test_a_calendar_never_open_has_no_due_moment():
    never = Calendar("UTC", ((),) * 7)
    assert never.add(z(2027, 1, 1), 60) is None
