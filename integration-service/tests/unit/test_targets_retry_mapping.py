"""Target checks, HTTP retries and field mapping, without I/O."""
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import requests

from integration_service.mapping import MappingError, dedupe, map_record
from integration_service.retry import (RetriesExhaustedError, RetryPolicy, call_with_retries,
                                       retry_after)
from integration_service.targets import TargetPolicy, TargetRefusedError


def resolver(table):
    return lambda host, _port: table[host]


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.5", "169.254.169.254",
                                     "::1", "fe80::1", "0.0.0.0", "::ffff:127.0.0.1"])
def test_private_loopback_and_link_local_targets_are_refused(address):
    policy = TargetPolicy("", resolver({"hook.example": [address]}))
    with pytest.raises(TargetRefusedError):
        policy.check("https://hook.example/x")


def test_a_name_is_refused_when_any_of_its_addresses_is_private():
    policy = TargetPolicy("", resolver({"mixed.example": ["93.184.216.34", "10.0.0.1"]}))
    with pytest.raises(TargetRefusedError):
        policy.check("https://mixed.example/")
    TargetPolicy("", resolver({"pub.example": ["93.184.216.34"]})).check("https://pub.example/")


def test_allow_listed_addresses_networks_and_hosts_pass():
    table = {"a.local": ["127.0.0.1"], "b.local": ["10.2.0.9"], "c.local": ["192.168.1.1"]}
    policy = TargetPolicy("127.0.0.1, 10.2.0.0/16, c.local", resolver(table))
    for host in table:
        policy.check(f"http://{host}/")
    with pytest.raises(TargetRefusedError):
        TargetPolicy("127.0.0.1", resolver({"x": ["127.0.0.2"]})).check("http://x/")


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "http:///x"])
def test_only_http_urls_with_a_host(url):
    with pytest.raises(TargetRefusedError):
        TargetPolicy("", resolver({})).check(url)


def answer(status, headers=None):
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    return response


def test_retry_after_seconds_and_http_dates_are_honoured_up_to_the_cap():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert retry_after("7") == 7
    assert retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30
    assert retry_after("soon") is None
    answers = [answer(429, {"Retry-After": "7"}), answer(503, {"Retry-After": "999"}),
               answer(500), answer(200)]
    sleeps = []
    result = call_with_retries(lambda: answers.pop(0), RetryPolicy(5, 1.0, 60.0),
                               sleep=sleeps.append)
    assert result.status_code == 200
    assert sleeps == [7, 60, 4]       # Retry-After, Retry-After capped, backoff of attempt 3


def test_retries_give_up_after_the_attempts_and_4xx_is_not_retried():
    with pytest.raises(RetriesExhaustedError):
        call_with_retries(lambda: answer(500), RetryPolicy(3, 0, 0), sleep=lambda _s: None)
    assert call_with_retries(lambda: answer(404), RetryPolicy(3), sleep=None).status_code == 404


def test_a_zendesk_record_maps_with_the_default_field_map_and_priorities():
    record = {"id": 42, "subject": "Printer", "description": "Jammed", "priority": "urgent",
              "tags": ["a", "a", "b"], "updated_at": "2026-01-01T00:00:00Z",
              "via": {"source": {"from": {"name": "Ann", "address": "ann@example.com"}}}}
    item = map_record(record, source="zd", kind="zendesk", config={})
    assert item == {"external_id": "42", "title": "Printer", "description": "Jammed",
                    "priority": "critical", "tags": ["a", "b"], "user_name": "Ann",
                    "user_email": "ann@example.com", "source": "zd",
                    "external_updated_at": "2026-01-01T00:00:00Z"}


def test_a_json_api_record_maps_by_dotted_paths_with_defaults():
    config = {"field_map": {"external_id": "key", "title": "fields.summary",
                            "user_email": "people.0.mail"},
              "defaults": {"description": "(none)", "user_name": "Imported"}}
    record = {"key": "JIRA-1", "fields": {"summary": "Down"}, "people": [{"mail": "b@x.io"}]}
    item = map_record(record, source="jira", kind="json_api", config=config)
    assert item["external_id"] == "JIRA-1" and item["title"] == "Down"
    assert item["user_email"] == "b@x.io" and item["description"] == "(none)"
    with pytest.raises(MappingError):
        map_record({"fields": {}}, source="jira", kind="json_api", config=config)


def test_dedupe_keeps_the_last_copy_of_a_record():
    items = [{"external_id": "1", "title": "old"}, {"external_id": "2"},
             {"external_id": "1", "title": "new"}]
    assert dedupe(items) == [{"external_id": "1", "title": "new"}, {"external_id": "2"}]
