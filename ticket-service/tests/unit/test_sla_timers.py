"""A ticket's clocks: pauses, new targets, firing once; moments computed by hand on the Paris
calendar of test_sla_calendar (Mon 11 January 2027 09:00 local = 08:00 UTC)."""
from __future__ import annotations

from datetime import date, datetime, timezone

from ticket_service.sla.calendar import Calendar
from ticket_service.sla.domain import BREACHED, RESOLUTION, WARNING, Timer

UTC = timezone.utc
WEEKDAYS_9_TO_5 = tuple(((9 * 60, 17 * 60),) if d < 5 else () for d in range(7))
PARIS = Calendar("Europe/Paris", WEEKDAYS_9_TO_5, frozenset({date(2027, 1, 1)}))
MON_0900 = datetime(2027, 1, 11, 8, 0, tzinfo=UTC)


def z(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def resolution(target: float = 480) -> Timer:
    return Timer.start("t1", 1, RESOLUTION, target, PARIS, MON_0900)


def test_a_new_clock_is_due_after_its_target_in_business_minutes():
    timer = resolution()
    assert timer.due_at == z(2027, 1, 11, 16, 0)              # Mon 17:00 local
    assert timer.warning_at == z(2027, 1, 11, 14, 24)         # 384 min: Mon 15:24 local
    assert timer.next_fire_at == timer.warning_at


def test_waiting_pauses_the_clock_and_the_pause_is_not_counted():
    timer = resolution()
    timer.pause(PARIS, z(2027, 1, 11, 10, 0))                 # waiting at Mon 11:00 (120 used)
    assert (timer.due_at, timer.warning_at, timer.next_fire_at) == (None, None, None)
    assert timer.consumed_s == 120 * 60
    timer.resume(PARIS, z(2027, 1, 12, 9, 0))                 # back Tue 10:00 local
    # 360 left from Tue 10:00 -> Tue 16:00 local; warning 264 left -> Tue 14:24 local
    assert timer.due_at == z(2027, 1, 12, 15, 0)
    assert timer.warning_at == z(2027, 1, 12, 13, 24)


def test_a_priority_change_keeps_what_was_counted():
    timer = resolution(480)
    timer.retarget(240, PARIS, z(2027, 1, 11, 9, 0))          # at Mon 10:00 local, 60 used
    assert timer.due_at == z(2027, 1, 11, 12, 0)              # 180 left: Mon 13:00 local
    timer.retarget(30, PARIS, z(2027, 1, 11, 9, 0))           # now 60 used of 30: overdue
    assert timer.due_at == z(2027, 1, 11, 8, 30)              # it was due Mon 09:30 local
    assert timer.fire(z(2027, 1, 11, 9, 0)) == [BREACHED]      # no late warning


def test_a_new_target_leaves_a_paused_clock_paused():
    timer = resolution(480)
    timer.pause(PARIS, z(2027, 1, 11, 10, 0))                 # 120 used, waiting
    timer.retarget(240, PARIS, z(2027, 1, 11, 12, 0))         # policy change while waiting
    assert timer.due_at is None and not timer.running and timer.consumed_s == 120 * 60
    timer.resume(PARIS, z(2027, 1, 12, 9, 0))                 # Tue 10:00 local, 120 left
    assert timer.due_at == z(2027, 1, 12, 11, 0)              # Tue 12:00 local


def test_a_calendar_change_keeps_time_counted_under_the_old_one():
    timer = resolution(480)
    always = Calendar()
    # Mon 09:00 -> 11:00 local counted on the Paris calendar (120), then every minute counts
    timer.retarget(480, always, z(2027, 1, 11, 10, 0), counted_under=PARIS)
    assert timer.consumed_s == 120 * 60
    assert timer.due_at == z(2027, 1, 11, 16, 0)              # 360 wall minutes later


def test_warning_and_breach_fire_once_each():
    timer = resolution(480)
    assert timer.fire(z(2027, 1, 11, 14, 23)) == []
    assert timer.fire(z(2027, 1, 11, 14, 24)) == [WARNING]
    assert timer.next_fire_at == timer.due_at
    assert timer.fire(z(2027, 1, 11, 15, 0)) == []
    assert timer.fire(z(2027, 1, 11, 16, 0)) == [BREACHED]
    assert timer.fire(z(2027, 1, 12, 16, 0)) == []
    assert timer.next_fire_at is None


def test_a_stopped_clock_keeps_its_count_and_a_reopen_runs_it_on():
    timer = resolution(480)
    timer.stop(PARIS, z(2027, 1, 11, 11, 0))                  # resolved Mon 12:00 local
    timer.stop(PARIS, z(2027, 1, 11, 12, 0))                  # closed later: no recount
    assert timer.consumed_s == 180 * 60 and timer.stopped_at == z(2027, 1, 11, 11, 0)
    timer.restart(PARIS, z(2027, 1, 12, 8, 0))                # reopened Tue 09:00 local
    assert timer.stopped_at is None and timer.due_at == z(2027, 1, 12, 13, 0)  # 300 left
