"""``ticketctl import`` and ``seed-demo`` against a stand-in gateway over real HTTP (conftest)."""
import csv
import json
import re

import pytest
from click.testing import CliRunner

from ticketctl.cli import cli

ROWS = [
    ("Printer on floor 3 is jammed again. Please send someone.", "Hardware", "HIGH"),
    ("VPN drops every ten minutes since the update", "Access", ""),
    ("   ", "Misc", "low"),                                         # row 3: empty text
    ("Need access to the finance share for the audit", "Access", "medium"),
    ("please reject me, I am malformed", "Misc", ""),               # row 5: the API says 422
    ("Laptop battery swells and the case is cracked", "Hardware", "critical"),
]


def write_csv(path, rows, header=("Document", "Topic_group", "Prio")):
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
        # These tests cover the one-create-per-row path; test_batch_import.py the batches.
        extra = ["--one-by-one"] if args[0] == "import" else []
        return CliRunner().invoke(cli, [*args, *extra, "--api-key-file",
                                        str(tmp_path / "none")], env=env)

    return run


def test_import_counts_retries_and_reports_bad_rows(ctl, gateway, tmp_path):
    path = write_csv(tmp_path / "t.csv", ROWS)
    gateway.throttle.add(ROWS[1][0])                   # 429 + Retry-After: 1, once
    gateway.in_flight.add(ROWS[3][0])                  # 409 + Retry-After (key in flight), once
    result = ctl("import", str(path), "--priority-column", "Prio")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert re.match(rf"file {path}: 6 row\(s\) in [\d.]+ s, [\d.]+ rows/s$", lines[0])
    assert [line.split() for line in lines[2:5]] == [["created", "4"],
                                                   ["already", "present", "0"], ["failed", "2"]]
    assert lines[5] == "row 3: empty description (column 'Document')"
    assert lines[6] == "row 5: HTTP 422 validation_error: request body is invalid " \
                       "(description: rejected)"
    assert len(gateway.tickets) == 4
    # 5 rows sent (not the empty one), two of them twice (429, 409): keys unique per row.
    assert len(gateway.posts) == 7
    assert len({p.key for p in gateway.posts}) == 5
    sent = {p.body["description"]: p.body for p in gateway.posts}
    assert sent[ROWS[0][0]]["title"] == "Printer on floor 3 is jammed again."
    assert sent[ROWS[0][0]]["priority"] == "high"
    assert "priority" not in sent[ROWS[1][0]]
    assert sent[ROWS[1][0]]["user_email"] == "import@example.com"


def test_running_again_creates_nothing_and_appended_rows_only(ctl, gateway, tmp_path):
    path = write_csv(tmp_path / "t.csv", ROWS)
    first = ctl("import", str(path), "--json")
    again = ctl("import", str(path), "--json")
    assert json.loads(first.stdout)["created"] == 4
    summary = json.loads(again.stdout)
    assert (summary["created"], summary["already_present"], summary["failed"]) == (0, 4, 2)
    assert [f["row"] for f in summary["failures"]] == [3, 5]
    write_csv(path, [*ROWS, ("Door badge reader broken at the main entrance", "Misc", "")])
    appended = json.loads(ctl("import", str(path), "--json").stdout)
    assert (appended["created"], appended["already_present"]) == (1, 4)
    assert len(gateway.tickets) == 5


def test_changed_options_on_a_rerun_are_reported_not_duplicated(ctl, gateway, tmp_path):
    path = write_csv(tmp_path / "t.csv", ROWS[:2])
    assert ctl("import", str(path)).exit_code == 0
    result = ctl("import", str(path), "--user-name", "Someone Else", "--json")
    assert result.exit_code == 1
    reasons = {f["reason"].split(":")[0] for f in json.loads(result.stdout)["failures"]}
    assert reasons == {"HTTP 422 idempotency_key_reused"}
    assert len(gateway.tickets) == 2


def test_title_column_limit_and_user_options(ctl, gateway, tmp_path):
    long_title = "word " * 60
    rows = [(f"text {i}", long_title if i == 0 else f"Title {i}") for i in range(5)]
    path = write_csv(tmp_path / "t.csv", rows, header=("Body", "Subject"))
    result = ctl("import", str(path), "--description-column", "Body", "--title-column",
                 "Subject", "--user-name", "Ops Team", "--user-email", "ops@example.org",
                 "--limit", "3", "--concurrency", "1")
    assert result.exit_code == 0, result.output
    bodies = [p.body for p in gateway.posts]
    assert [b["description"] for b in bodies] == ["text 0", "text 1", "text 2"]
    assert len(bodies[0]["title"]) <= 200 and bodies[0]["title"].endswith("\u2026")
    assert bodies[1]["title"] == "Title 1"
    assert {(b["user_name"], b["user_email"]) for b in bodies} == {("Ops Team", "ops@example.org")}


def test_retries_run_out(ctl, gateway, tmp_path):
    path = write_csv(tmp_path / "t.csv", ROWS[:2])
    gateway.unavailable.add(ROWS[0][0])
    result = ctl("import", str(path), "--retries", "2")
    assert result.exit_code == 1
    assert "row 1: HTTP 503 service_unavailable: ticket-service is down (still, after 3 " \
           "attempt(s))" in result.stdout
    assert sum(p.body["description"] == ROWS[0][0] for p in gateway.posts) == 3
    assert len(gateway.tickets) == 1


def test_a_refused_key_stops_the_import(ctl, gateway, tmp_path):
    path = write_csv(tmp_path / "t.csv", [(f"ticket number {i}", "x", "") for i in range(60)])
    result = ctl("import", str(path), "--concurrency", "2", key="tts_wrong")
    assert result.exit_code == 1
    assert "the gateway refused the API key: HTTP 401 invalid_api_key" in result.stderr
    assert "Traceback" not in result.output


def test_usage_errors_send_nothing(ctl, gateway, tmp_path):
    path = write_csv(tmp_path / "t.csv", ROWS)
    missing = ctl("import", str(path), "--title-column", "Subject")
    assert missing.exit_code == 2
    assert "no column 'Subject'" in missing.stderr and "Document, Topic_group, Prio" in \
        missing.stderr
    bad_email = ctl("import", str(path), "--user-email", "not-an-address")
    assert bad_email.exit_code == 2 and "not an e-mail address" in bad_email.stderr
    no_key = ctl("import", str(path), key="")
    assert no_key.exit_code == 2 and "no API key" in no_key.stderr
    assert gateway.posts == []


def test_api_key_file_is_the_fallback(gateway, tmp_path):
    path = write_csv(tmp_path / "t.csv", ROWS[:1])
    (tmp_path / "dev-api-key").write_text(gateway.key + "\n")
    result = CliRunner().invoke(cli, ["import", str(path), "--one-by-one", "--api-key-file",
                                      str(tmp_path / "dev-api-key")],
                                env={"GATEWAY_URL": gateway.url, "TICKETCTL_API_KEY": None})
    assert result.exit_code == 0, result.output
    assert len(gateway.tickets) == 1


def test_unreachable_gateway_is_exit_2(tmp_path):
    path = write_csv(tmp_path / "t.csv", ROWS)
    result = CliRunner().invoke(cli, ["import", str(path), "--one-by-one"], env={
        "GATEWAY_URL": "http://127.0.0.1:1", "TICKETCTL_API_KEY": "tts_any"})
    assert result.exit_code == 2
    assert "gateway at http://127.0.0.1:1 unreachable" in result.stderr


def test_a_file_that_is_not_utf8_is_refused(ctl, gateway, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("Document\nCaf\xe9 machine broken\n".encode("latin-1"))
    result = ctl("import", str(path))
    assert result.exit_code == 1 and "not UTF-8 text" in result.stderr


def test_seed_demo_is_deterministic_and_idempotent(ctl, gateway):
    first = json.loads(ctl("seed-demo", "12", "--seed", "7", "--json").stdout)
    assert (first["seed"], first["created"], first["failed"]) == (7, 12, 0)
    bodies = [p.body for p in gateway.posts]
    first_posts = {p.key: p.body for p in gateway.posts}
    assert len({b["description"] for b in bodies}) >= 10
    assert all(re.fullmatch(r"[a-z.]+@example\.(com|org|net)", b["user_email"]) for b in bodies)
    assert {b["priority"] for b in bodies} <= {"low", "medium", "high", "critical"}
    more = json.loads(ctl("seed-demo", "15", "--seed", "7", "--json").stdout)
    assert (more["created"], more["already_present"]) == (3, 12)
    again = {p.key: p.body for p in gateway.posts[12:] if p.key in first_posts}
    assert again == first_posts                        # same seed: same keys, same tickets


def test_seed_demo_without_a_seed_prints_the_one_it_chose(ctl, gateway):
    result = ctl("seed-demo", "2")
    assert result.exit_code == 0, result.output
    seed = re.search(r"seed (\d+) \(repeat with --seed \1\)", result.stderr).group(1)
    assert result.stdout.startswith(f"seed {seed}: 2 row(s)")
