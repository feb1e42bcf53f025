"""The consumer's batches: many messages per transaction, the same outcome per message."""
import threading

import pytest
import sqlalchemy as sa

from support_shared.config import ServiceSettings
from support_shared.db import UnitOfWork
from support_shared.events import EventType, TicketStatusUpdated, new_event
from support_shared.messaging.consumer import (Consumer, PermanentError, Subscription,
                                               TransientError)
from support_shared.testing.helpers import wait_until

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

    def start_(handler, *, engine, batch_size=50, batch_handler=None, **overrides):
        consumer = Consumer(settings.model_copy(update=overrides), "svc",
                            [Subscription(KEY, handler, batch_handler=batch_handler)],
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
    yield start_
    for consumer, thread in running:
        consumer.stop()
        thread.join(10)
        assert not thread.is_alive()


def test_a_backlog_is_applied_once_in_shared_transactions(engine, start):
    consumer, probe = start(lambda env: _apply(engine, env), engine=engine, prefetch_count=100)
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

    consumer, probe = start(handle, engine=engine)
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

    consumer, probe = start(handle, engine=engine)
    for i in range(1, 11):
        probe.publish(KEY, _event(i).to_json())
    start.run(consumer)

    wait_until(lambda: len(_applied(engine)) == 10, message="all ten applied")
    assert failures["left"] == 0
    with engine.connect() as conn:
        claims = conn.scalar(sa.text("SELECT count(*) FROM inbox"))
    assert claims == 10                               # nothing applied twice


def test_prepare_sees_each_batch_before_its_handlers(engine, settings, broker_probe):
    seen: list[tuple[str, object]] = []

    def prepare(envelopes):
        seen.append(("prepare", [e.ticket_id for e in envelopes]))

    def handle(envelope):
        seen.append(("handle", envelope.ticket_id))
        _apply(engine, envelope)

    consumer = Consumer(settings, "svc", [Subscription(KEY, handle, prepare)], engine=engine,
                        batch_size=50)
    probe = broker_probe(settings.exchange)
    consumer.topology.declare_exchanges(probe.channel)
    consumer.declare(probe.channel)
    for i in range(1, 31):
        probe.publish(KEY, _event(i).to_json())
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(_applied(engine)) == 30, message="30 applied")
    finally:
        consumer.stop()
        thread.join(10)
    prepared = [ids for kind, ids in seen if kind == "prepare"]
    assert sorted(i for ids in prepared for i in ids) == list(range(1, 31))
    assert len(prepared) < 30                                 # in bulk, not one by one
    for index, (kind, payload) in enumerate(seen):            # each handler after its prepare
        if kind == "handle":
            assert any(k == "prepare" and payload in ids for k, ids in seen[:index])


def _count_savepoints(engine):
    seen = {"savepoints": 0}

    def on_execute(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SAVEPOINT"):
            seen["savepoints"] += 1

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    return seen


def test_a_clean_batch_needs_no_savepoints(engine, start):
    seen = _count_savepoints(engine)
    consumer, probe = start(lambda env: _apply(engine, env), engine=engine, prefetch_count=100)
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

    consumer, probe = start(handle, engine=engine, prefetch_count=100)
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

    consumer, probe = start(handle, engine=engine, prefetch_count=100)
    for i in range(1, 21):
        probe.publish(KEY, _event(i).to_json())
    start.run(consumer)
    wait_until(lambda: len(_applied(engine)) == 20, message="20 applied")
    assert seen["savepoints"] == 0


def test_a_batch_handler_replaces_the_handlers_of_its_messages(engine, start):
    seen = _count_savepoints(engine)
    calls = {"batch": 0, "one": 0}

    def handle(envelope):
        calls["one"] += 1
        _apply(engine, envelope)

    def handle_batch(envelopes):
        calls["batch"] += 1
        for envelope in envelopes:
            _apply(engine, envelope)

    consumer, probe = start(handle, engine=engine, batch_handler=handle_batch)
    for i in range(1, 31):
        probe.publish(KEY, _event(i).to_json())
    start.run(consumer)
    wait_until(lambda: len(_applied(engine)) == 30, message="30 applied")
    assert calls["one"] == 0 and calls["batch"] >= 1     # never both for one message
    assert seen["savepoints"] == 0
