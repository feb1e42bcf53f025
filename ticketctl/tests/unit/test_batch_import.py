"""``ticketctl import`` in batches (POST /api/tickets/batch) against the stand-in gateway."""
import csv
import json

import pytest
from click.testing import CliRunner

from ticketctl.cli import cli

ROWS = [(f"Printer {n} on floor 3 is jammed again", "Hardware") for n in range(7)]


def write_csv(path, rows, header=("Document", "Topic_group")):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def ctl(gateway, tmp_path):
    def run(*args, key=None):
        env = {"GATEWAY_URL": gateway.url,
               "TICKETCTL_API_KEY": gateway.key if key is None else key}
        result = CliRunner().invoke(cli, [*args, "--api-key-file", str(tmp_path / "none")],
                                    env=env)
        return result

    return run


def summary(result):
    return json.loads(result.stdout)


def test_rows_go_in_batches_and_a_rerun_changes_nothing(ctl, gateway, tmp_path):
    path = write_csv(tmp_path / "t.csv", ROWS)
    first = ctl("import", str(path), "--batch-size", "3", "--json")
    assert first.exit_code == 0, first.output
    assert (summary(first)["created"], summary(first)["already_present"]) == (7, 0)
    assert sorted(len(b) for b in gateway.batches) == [1, 3, 3]   # concurrent batches
    items = sorted((item for batch in gateway.batches for item in batch),
                   key=lambda item: item["description"])
    assert {item["source"] for item in items} == {"ticketctl-import"}
    assert len({item["external_id"] for item in items}) == 7
    assert items[0]["title"] == "Printer 0 on floor 3 is jammed again"
    again = summary(ctl("import", str(path), "--json"))
    assert (again["created"], again["already_present"], again["updated"], again["failed"]) \
        == (0, 7, 0, 0)
    assert len(gateway.external) == 7


def test_an_item_error_fails_its_row_only_and_busy_batches_are_retried(ctl, gateway, tmp_path):
    rows = [*ROWS[:3], ("please reject me", "x"), *ROWS[3:5]]
    path = write_csv(tmp_path / "t.csv", rows)
    gateway.throttle.add(ROWS[0][0])                     # the first batch: 429 once
    result = ctl("import", str(path), "--batch-size", "4", "--json")
    assert result.exit_code == 1
    out = summary(result)
    assert (out["created"], out["failed"]) == (5, 1)
    assert out["failures"] == [{"row": 4, "reason": "validation_error: item is invalid "
                                                    "(description: rejected)"}]
    assert len(gateway.batches) == 3                     # 429, then both batches


def test_a_batch_that_keeps_failing_fails_its_rows(ctl, gateway, tmp_path):
    path = write_csv(tmp_path / "t.csv", ROWS[:4])
    gateway.unavailable.add(ROWS[0][0])
    out = summary(ctl("import", str(path), "--batch-size", "2", "--retries", "1", "--json"))
    assert (out["created"], out["failed"]) == (2, 2)
    assert {f["row"] for f in out["failures"]} == {1, 2}
    assert out["failures"][0]["reason"].startswith("HTTP 503 service_unavailable")


def test_a_refused_key_stops_the_batch_import(ctl, gateway, tmp_path):
    path = write_csv(tmp_path / "t.csv", ROWS)
    result = ctl("import", str(path), key="tts_wrong")
    assert result.exit_code == 1
    assert "the gateway refused the API key: HTTP 401" in result.stderr


def test_a_bad_source_is_a_usage_error(ctl, gateway, tmp_path):
    path = write_csv(tmp_path / "t.csv", ROWS)
    result = ctl("import", str(path), "--source", "Not Valid")
    assert result.exit_code == 2 and gateway.batches == []
