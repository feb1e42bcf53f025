"""``ticketctl export`` against the stand-in gateway: pages until caught up, resumes, CSV."""
import csv
import json

from click.testing import CliRunner

from ticketctl import export_cli
from ticketctl.cli import cli


def run(gateway, *args):
    return CliRunner().invoke(cli, ["export", *args], env={"GATEWAY_URL": gateway.url,
                                                           "TICKETCTL_API_KEY": gateway.key})


def tickets(n, start=0):
    return [{"id": i, "description": f"line one of {i}\nline two"} for i in range(start, n)]


def test_pages_until_caught_up_then_resumes_with_only_the_new(gateway, tmp_path, monkeypatch):
    monkeypatch.setattr(export_cli, "PAGE_LIMIT", 4)
    gateway.exported = tickets(10)
    out = tmp_path / "t.jsonl"
    first = run(gateway, "-o", str(out), "--updated-since", "2026-12-01T00:00:00+00:00")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["written"] == 10
    assert [q.get("cursor") for q in gateway.exports] == [None, "3", "7"]
    assert gateway.exports[0]["updated_since"] == "2026-12-01T00:00:00+00:00"
    assert "updated_since" not in gateway.exports[1]
    gateway.exported += tickets(12, start=10)
    again = run(gateway, "-o", str(out), "--resume")
    assert json.loads(again.stdout)["written"] == 2
    assert gateway.exports[3]["cursor"] == "9"
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["ticket"]["id"] for r in lines] == list(range(12))


def test_csv_keeps_line_breaks_and_one_header(gateway, tmp_path):
    gateway.exported = tickets(3)
    out = tmp_path / "t.csv"
    assert run(gateway, "-o", str(out), "--format", "csv").exit_code == 0
    gateway.exported += tickets(4, start=3)
    assert run(gateway, "-o", str(out), "--format", "csv", "--resume").exit_code == 0
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == ["0", "1", "2", "3"]
    assert rows[0]["description"] == "line one of 0\nline two"


def test_a_refused_export_is_an_error(gateway, tmp_path):
    result = CliRunner().invoke(cli, ["export", "-o", str(tmp_path / "x.jsonl")],
                                env={"GATEWAY_URL": gateway.url, "TICKETCTL_API_KEY": "nope"})
    assert result.exit_code == 1
    assert "HTTP 401" in result.stderr
