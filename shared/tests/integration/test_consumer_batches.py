"""The consumer's batches: many messages per transaction, the same outcome per message."""
import threading

import pytest
import sqlalchemy as sa

from support_shared.config import ServiceSettings
from support_shared.db import UnitOfWork
from support_shared.events import (EventType, TicketCreated, TicketStatusUpdated, new_event,
                                   utcnow)
from support_shared.messaging.consumer import (Consumer, PermanentError, Subscription,
                                               TransientError)
from support_shared.testing.helpers import each_event, wait_until

pytestmark = pytest.mark.integration

KEY = "ticket.status.updated"


@pytest.fixture
def settings(make_settings):
    return make_settings(ServiceSettings, schema="batches")


@pytest.fixture
def engine(engine):
    """The shared schema fixture plus the table the handlers below write."""
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE applied (ticket_id int PRIMARY KEY, txid bigint)"))
    return engine


def _event(ticket_id):
    return new_event(EventType.TICKET_STATUS_UPDATED,
                     TicketStatusUpdated(old_status="pending", new_status="in_progress"),
                     tenant_id="default", ticket_id=ticket_id, ticket_version=2)


def _apply(engine, envelope):
    """A handler's unit of work: inbox claim plus one row, as the services' handlers do."""
    with UnitOfWork(engine, consumer="test") as uow:
        if not uow.inbox.claim(envelope.event_id):
            return
        uow.conn.execute(sa.text("INSERT INTO applied VALUES (:t, txid_current())"),
                         {"t": envelope.ticket_id})
        uow.commit()


def _applied(engine):
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT ticket_id, txid FROM applied")).all())


@pytest.fixture
def start(settings, broker_probe):
    running = []

    def start_(handler, *, engine, batch_size=50, **overrides):
        consumer = Consumer(settings.model_copy(update=overrides), "svc",
                            [Subscription(KEY, handler, TicketStatusUpdated)],
                            engine=engine, batch_size=batch_size)
        probe = broker_probe(settings.exchange)
        consumer.topology.declare_exchanges(probe.channel)
        consumer.declare(probe.channel)
        return consumer, probe

    def run(consumer):
        thread = threading.Thread(target=consumer.run, daemon=True)
        thread.start()
        running.append((consumer, thread))

    start_.run = run
    start_.threads_alive = lambda: all(t.is_alive() for _, t in running)
    yield start_
    for consumer, thread in running:
        consumer.stop()
        thread.join(10)
        assert not thread.is_alive()


def test_a_backlog_is_applied_once_in_shared_transactions(engine, start):
    consumer, probe = start(each_event(lambda env: _apply(engine, env)), engine=engine, prefetch_count=100)
    events = [_event(i) for i in range(1, 301)]
    for env in events:
        probe.publish(KEY, env.to_json())
    probe.publish(KEY, events[0].to_json())            # a duplicate delivery on top
    start.run(consumer)

    wait_until(lambda: len(_applied(engine)) == 300, timeout=30, message="300 events applied")
    applied = _applied(engine)
    assert sorted(applied) == list(range(1, 301))
    # Many messages shared each transaction: far fewer transactions than messages.
    assert len(set(applied.values())) <= 300 // 5
    wait_until(lambda: probe.channel.queue_declare(consumer.queue_for(KEY), passive=True)
               .method.message_count == 0, message="queue drained")


def test_each_message_keeps_its_own_outcome_inside_a_batch(engine, start):
    crashed_once: set[int] = set()

    def handle(envelope):
        if envelope.ticket_id == 7:                  # writes, then fails for good
            with UnitOfWork(engine, consumer="test") as uow:
                uow.conn.execute(sa.text("INSERT INTO applied VALUES (7, 0)"))
                raise PermanentError("ticket 7 can never be applied")
        if envelope.ticket_id == 9 and 9 not in crashed_once:
            crashed_once.add(9)
            raise RuntimeError("a bug that happens once")
        _apply(engine, envelope)

    consumer, probe = start(each_event(handle), engine=engine)
    for i in range(1, 21):
        probe.publish(KEY, _event(i).to_json())
    probe.publish(KEY, b"{not json")
    start.run(consumer)

    dlq = consumer.topology.dead_letter_queue(consumer.queue_for(KEY))
    dead = []
    wait_until(lambda: dead.extend(probe.drain(dlq)) or len(dead) >= 2, message="two dead letters")
    wait_until(lambda: len(_applied(engine)) == 19, message="19 good events applied")
    assert sorted(_applied(engine)) == [i for i in range(1, 21) if i != 7]   # 7 rolled back
    assert sorted(p.headers["x-error-type"] for p, _ in dead) == ["InvalidEventError",
                                                                  "PermanentError"]
    assert crashed_once == {9}                       # requeued once, then applied


def test_a_transient_failure_sends_the_batch_through_one_at_a_time(engine, start):
    failures = {"left": 1}

    def handle(envelope):
        _apply(engine, envelope)
        if envelope.ticket_id == 5 and failures["left"]:
            failures["left"] -= 1
            raise TransientError("database hiccup")

    consumer, probe = start(each_event(handle), engine=engine)
    for i in range(1, 11):
        probe.publish(KEY, _event(i).to_json())
    start.run(consumer)

    wait_until(lambda: len(_applied(engine)) == 10, message="all ten applied")
    assert failures["left"] == 0
    with engine.connect() as conn:
        claims = conn.scalar(sa.text("SELECT count(*) FROM inbox"))
    assert claims == 10                               # nothing applied twice


def _count_savepoints(engine):
    seen = {"savepoints": 0}

    def on_execute(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SAVEPOINT"):
            seen["savepoints"] += 1

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    return seen


def test_a_clean_batch_needs_no_savepoints(engine, start):
    seen = _count_savepoints(engine)
    consumer, probe = start(each_event(lambda env: _apply(engine, env)), engine=engine, prefetch_count=100)
    for i in range(1, 41):
        probe.publish(KEY, _event(i).to_json())
    start.run(consumer)
    wait_until(lambda: len(_applied(engine)) == 40, message="40 applied")
    assert seen["savepoints"] == 0


def test_writes_left_uncommitted_in_an_optimistic_batch_are_undone(engine, start):
    """A unit of work that writes and leaves without commit (no error) must not keep its
    writes: the batch is run again with savepoints, which roll back that one alone."""
    seen = _count_savepoints(engine)

    def handle(envelope):
        if envelope.ticket_id == 4:
            with UnitOfWork(engine, consumer="test") as uow:
                uow.conn.execute(sa.text("INSERT INTO applied VALUES (4, 0)"))
            return                                   # changed its mind: no commit
        _apply(engine, envelope)

    consumer, probe = start(each_event(handle), engine=engine, prefetch_count=100)
    for i in range(1, 11):
        probe.publish(KEY, _event(i).to_json())
    start.run(consumer)
    wait_until(lambda: len(_applied(engine)) == 9, message="9 applied")
    wait_until(lambda: probe.channel.queue_declare(consumer.queue_for(KEY), passive=True)
               .method.message_count == 0, message="queue drained")
    assert sorted(_applied(engine)) == [i for i in range(1, 11) if i != 4]
    assert seen["savepoints"] > 0                    # the second try isolated each message
    with engine.connect() as conn:                   # and nothing was applied twice
        assert conn.scalar(sa.text("SELECT count(*) FROM inbox")) == 9


def test_a_read_only_unit_of_work_does_not_force_savepoints(engine, start):
    seen = _count_savepoints(engine)

    def handle(envelope):
        with UnitOfWork(engine, consumer="test") as uow:   # a look-up, never committed
            uow.conn.execute(sa.text("SELECT count(*) FROM applied")).scalar()
        _apply(engine, envelope)

    consumer, probe = start(each_event(handle), engine=engine, prefetch_count=100)
    for i in range(1, 21):
        probe.publish(KEY, _event(i).to_json())
    start.run(consumer)
    wait_until(lambda: len(_applied(engine)) == 20, message="20 applied")
    assert seen["savepoints"] == 0


def test_the_handler_gets_the_batch_and_runs_once_per_message(engine, start):
    seen = _count_savepoints(engine)
    sizes: list[int] = []

    def handle(envelopes):
        sizes.append(len(envelopes))
        for envelope in envelopes:
            _apply(engine, envelope)

    consumer, probe = start(handle, engine=engine, prefetch_count=100)
    for i in range(1, 31):
        probe.publish(KEY, _event(i).to_json())
    start.run(consumer)
    wait_until(lambda: len(_applied(engine)) == 30, message="30 applied")
    assert sum(sizes) == 30 and max(sizes) > 1           # batches, each message once
    assert seen["savepoints"] == 0


def test_one_bad_message_among_99_leaves_the_rest_applied_once(engine, start):
    """A handler that raises an unexpected error on one message of a set: the other 99 are
    applied once, only the bad one ends in the DLQ (after its delivery limit) and the
    consumer keeps running."""
    def handle(envelopes):
        if any(e.ticket_id == 50 for e in envelopes):
            raise ValueError("the model cannot predict ticket 50")
        for envelope in envelopes:
            _apply(engine, envelope)

    consumer, probe = start(handle, engine=engine, prefetch_count=100, batch_size=100,
                            delivery_limit=2)
    for i in range(1, 101):
        probe.publish(KEY, _event(i).to_json())
    start.run(consumer)
    dlq = consumer.topology.dead_letter_queue(consumer.queue_for(KEY))
    wait_until(lambda: len(_applied(engine)) == 99, message="99 good events applied")
    wait_until(lambda: probe.channel.queue_declare(dlq, passive=True).method.message_count == 1,
               timeout=30, message="the bad message dead-lettered")
    assert 50 not in _applied(engine)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM inbox")) == 99
    assert start.threads_alive()


def test_a_message_of_another_payload_type_is_dead_lettered_unhandled(engine, start):
    calls = []
    consumer, probe = start(lambda envs: calls.extend(envs), engine=engine)
    wrong = new_event(EventType.TICKET_CREATED,
                      TicketCreated(title="t", description="d", user_name="u",
                                    user_email="u@example.com", priority="low",
                                    created_at=utcnow()),
                      tenant_id="default", ticket_id=1, ticket_version=1)
    probe.publish(KEY, wrong.to_json())
    start.run(consumer)
    dlq = consumer.topology.dead_letter_queue(consumer.queue_for(KEY))
    dead = []
    wait_until(lambda: dead.extend(probe.drain(dlq)) or dead, message="dead-lettered")
    assert dead[0][0].headers["x-error-type"] == "InvalidEventError"
    assert calls == []
