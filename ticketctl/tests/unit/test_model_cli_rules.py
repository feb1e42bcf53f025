"""``ticketctl model`` usage rules, checked before the AI service's database is contacted."""
from click.testing import CliRunner

from ticketctl.cli import cli

# Nothing listens on port 1: a command that got as far as the database fails with exit code 2
# and "database unavailable", which the usage errors below must not show.
ENV = {"AI_SERVICE_DATABASE_URL": "postgresql+psycopg2://postgres@127.0.0.1:1/nowhere"}


def run(tmp_path, *args):
    path = tmp_path / "x.csv"
    path.write_text("Document,Topic_group\nvpn down,Network\n")
    return CliRunner().invoke(cli, ["model", *[str(path) if a == "CSV" else a for a in args]],
                              env=ENV)


CSV_ARGS = ("--csv", "CSV", "--text-column", "Document", "--label-column", "Topic_group")


def test_folds_and_version_exclude_each_other(tmp_path):
    result = run(tmp_path, "evaluate", *CSV_ARGS, "--folds", "3", "--version", "v1")
    assert result.exit_code == 2 and "choose --folds or --version, not both" in result.stderr


def test_one_fold_is_refused(tmp_path):
    result = run(tmp_path, "train", *CSV_ARGS, "--folds", "1")
    assert result.exit_code == 2 and "at least 2" in result.stderr


def test_csv_must_exist(tmp_path):
    result = run(tmp_path, "train", "--csv", str(tmp_path / "missing.csv"),
                 "--text-column", "a", "--label-column", "b")
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_unreachable_database_is_exit_2_without_traceback(tmp_path):
    result = run(tmp_path, "list")
    assert result.exit_code == 2 and "AI service database unavailable" in result.stderr
    assert "Traceback" not in result.output


def test_the_schedule_takes_durations_with_units(tmp_path):
    for bad in ("soon", "0s", "-5m", "1w"):
        result = run(tmp_path, "retrain", "--every", bad)
        assert result.exit_code == 2 and "--every" in result.stderr, bad


def test_a_scheduled_round_reports_an_unreachable_database_and_goes_on(tmp_path, monkeypatch):
    naps = []
    monkeypatch.setattr("ai_categorization_service.model_cli.time.sleep", naps.append)
    result = run(tmp_path, "retrain", "--every", "30m", "--max-rounds", "2")
    assert result.exit_code == 0, result.output
    assert "retrain round 1" in result.stdout and "retrain round 2" in result.stdout
    assert result.stderr.count("database unavailable") == 2
    assert naps == [1800.0]                     # between the two rounds only
