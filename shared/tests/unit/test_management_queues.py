"""The management client's queue listing and its helpers, with a fake HTTP session."""
from __future__ import annotations

import pytest

from support_shared.messaging.dead_letters import Unavailable
from support_shared.messaging.management import Management, direct_session, vhost_of


class FakeResponse:
    def __init__(self, status: int, body: object) -> None:
        self.status_code = status
        self.body = body

    def json(self) -> object:
        return self.body


class FakeSession:
    def __init__(self, answer: FakeResponse) -> None:
        self.answer = answer
        self.urls: list[str] = []

    def get(self, url: str, **kw: object) -> FakeResponse:
        self.urls.append(url)
        return self.answer


@pytest.mark.parametrize("url,vhost", [("amqp://g:g@h:5672/%2F", "/"), ("amqp://h:5672", "/"),
                                       ("amqp://h/", "/"), ("amqp://h/tickets", "tickets"),
                                       ("amqp://h/a%2Fb", "a/b")])
def test_vhost_of(url, vhost):
    assert vhost_of(url) == vhost


def test_direct_session_ignores_the_environment():
    session = direct_session()
    assert session.trust_env is False
    session.close()


def test_queues_in_one_call_with_the_columns_asked():
    session = FakeSession(FakeResponse(200, [{"name": "a", "messages": 1}, "junk"]))
    management = Management("http://u:p@mq:15672", "tickets/x", session=session)
    assert management.queues(("name", "messages")) == [{"name": "a", "messages": 1}]
    assert session.urls == ["http://mq:15672/api/queues/tickets%2Fx?columns=name,messages"]


@pytest.mark.parametrize("answer,reason", [(FakeResponse(404, None), "has no vhost 'v'"),
                                           (FakeResponse(200, {"error": 1}), "a queue list")])
def test_queues_unavailable_without_a_list(answer, reason):
    management = Management("http://mq:15672", "v", session=FakeSession(answer))
    with pytest.raises(Unavailable, match=reason):
        management.queues()
