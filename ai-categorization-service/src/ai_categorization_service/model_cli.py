"""The ``model`` commands: train, evaluate, retrain, list and activate the local model's versions.

A click group of this service's own, mounted by ``ticketctl`` as ``ticketctl model``. The work
is done by ``modelops`` (train, evaluate, retrain) and ``registry`` (list, activate) on the
service's own schema (``AI_SERVICE_DATABASE_URL`` / ``AI_SERVICE_DB_SCHEMA``). Running services
pick up an activated version within ``AI_SERVICE_MODEL_REFRESH_S``.
"""
from __future__ import annotations

import datetime as dt
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

import click
from sqlalchemy.engine import Engine

from support_shared.commands import CommandError, OperationGroup, open_database, table, to_json

from .config import Settings
from .registry import ModelRegistry, ModelVersion
from .tenant_departments import SqlTenantDepartmentRepository

if TYPE_CHECKING:
    from .evaluation import EvaluationReport

# Storing a model trained on the whole data set sends about 11 MB in one statement.
STATEMENT_TIMEOUT_MS = 120_000


@contextmanager
def _engine() -> Iterator[Engine]:
    settings = Settings()
    with open_database(settings.database_url, settings.db_schema, "AI service database",
                       statement_timeout_ms=STATEMENT_TIMEOUT_MS) as engine:
        yield engine


def _ops() -> Any:
    # Imported on use: scikit-learn takes a second or more to import; list and activate
    # (the registry alone) need not wait for it.
    from . import modelops

    return modelops


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


def _version_rows(versions: list[ModelVersion]) -> str:
    if not versions:
        return "no stored model versions"
    rows = []
    for v in versions:
        m = v.metrics or {}
        rows.append((v.version, "*" if v.active else "", v.source,
                     v.created_at.strftime("%Y-%m-%d %H:%M:%S"), v.training_rows, len(v.labels),
                     _fmt(m.get("accuracy")), _fmt(m.get("macro_f1")),
                     _fmt(m.get("coverage_at_95_precision"))))
    return table(("VERSION", "ACTIVE", "SOURCE", "CREATED", "ROWS", "LABELS", "ACCURACY",
                         "MACRO_F1", "COVERAGE@95"), rows, numeric=(4, 5, 6, 7, 8))


def _activation_note(version: ModelVersion) -> str:
    if version.active:
        return (f"model {version.version} is active: running services switch to it within "
                f"AI_SERVICE_MODEL_REFRESH_S (default 5 s)")
    return f"model {version.version} stored, not active: ticketctl model activate {version.version}"


def _dropped(dropped: dict[str, int]) -> list[str]:
    if not dropped:
        return []
    listing = ", ".join(f"{label} ({n})" for label, n in dropped.items())
    return [f"left out (fewer than 2 rows): {listing}"]


def _change(name: str, before: float, after: float) -> str:
    return f"{name} {before:.4f} -> {after:.4f} ({after - before:+.4f})"


def _comparison(before: "EvaluationReport", after: "EvaluationReport") -> str:
    return ", ".join([_change("accuracy", before.accuracy, after.accuracy),
                      _change("macro-F1", before.macro_f1, after.macro_f1),
                      _change("coverage at 95% precision", before.coverage_at_95_precision,
                              after.coverage_at_95_precision)])


def _label_map(_ctx: click.Context, _param: click.Parameter,
               values: tuple[str, ...]) -> dict[str, str]:
    """``LABEL=DEPARTMENT`` options as a mapping (a label mapped twice is refused)."""
    mapping: dict[str, str] = {}
    for value in values:
        label, sep, department = (part.strip() for part in value.partition("="))
        if not sep or not label or not department:
            raise click.BadParameter(f"{value!r}: use LABEL=DEPARTMENT")
        if label in mapping and mapping[label] != department:
            raise click.BadParameter(f"label {label!r} mapped twice")
        mapping[label] = department
    return mapping


def _department_names(engine: Engine, tenant: str) -> list[str]:
    """The tenant's active departments as the AI service knows them."""
    with engine.connect() as conn:
        found = SqlTenantDepartmentRepository(conn).active([tenant])[tenant]
    return [d.name for d in found]


@click.group("model", cls=OperationGroup)
def model_group() -> None:
    """The AI service's local model: stored versions, training, evaluation, activation.

    Uses AI_SERVICE_DATABASE_URL and AI_SERVICE_DB_SCHEMA (defaults: the local database,
    schema ai_categorization).
    """


def _csv_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--csv", "csv_path", required=True,
                     type=click.Path(exists=True, dir_okay=False), help="Labelled CSV file."),
        click.option("--text-column", required=True, help="Column with the ticket text."),
        click.option("--label-column", required=True, help="Column with the department."),
    ]):
        command = option(command)
    return command


_BOOSTERS = click.option(
    "--boosters/--no-boosters", default=True, show_default=True,
    help="From 5,000 rows on, add the LightGBM boosters (about 1 point more accuracy on large "
         "files; predicting takes 1.7-1.8 times as long, training several minutes more).")


@model_group.command("train")
@_csv_options
@click.option("--folds", default=5, show_default=True, type=click.IntRange(min=0),
              help="k-fold cross-validation first, stored as the version's metrics (0: none).")
@click.option("--activate/--no-activate", default=False, show_default=True,
              help="Make the new version the active one.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@click.option("--map", "mappings", multiple=True, callback=_label_map, metavar="LABEL=DEPARTMENT",
              help="Answer DEPARTMENT for the CSV's LABEL (repeatable); a label equal to a "
                   "department's name needs none.")
@click.option("--tenant", default="default", show_default=True,
              help="Whose departments the labels are checked against.")
@_BOOSTERS
def model_train(csv_path: str, text_column: str, label_column: str, folds: int,
                activate: bool, seed: int, mappings: dict[str, str], tenant: str,
                boosters: bool) -> None:
    """Train a model on a labelled CSV and store it as a new version.

    The CSV's labels, mapped with --map or matching a department's name, are what the model
    answers. A label that is no department of --tenant is warned about: its tickets go to the
    triage department for review.
    """
    if folds == 1:
        raise click.BadParameter("use 0 (no cross-validation) or at least 2", param_hint="--folds")
    with _engine() as engine:
        departments = _department_names(engine, tenant)
        result = _ops().train_from_csv(engine, csv_path, text_column, label_column,
                                       folds=folds, activate=activate, seed=seed,
                                       boosters=boosters, label_map=mappings,
                                       departments=departments)
    if result.without_department:
        click.echo(f"warning: labels with no department of tenant {tenant} (their tickets go "
                   f"to triage for review; map them with --map LABEL=DEPARTMENT): "
                   + ", ".join(result.without_department), err=True)
    version = result.version
    lines = [f"trained on {version.training_rows} rows, {len(version.labels)} labels: "
             + ", ".join(version.labels)] + _dropped(result.dropped_labels)
    if result.report is not None:
        lines += ["", result.report.format_table(), ""]
    lines.append(_activation_note(version))
    click.echo("\n".join(lines))


@model_group.command("evaluate")
@_csv_options
@click.option("--folds", type=click.IntRange(min=2),
              help="k-fold cross-validation of a new model on the file [default: 5].")
@click.option("--version", help="Score this stored version (or 'active': the model in use) "
                                "on the file as a holdout instead.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_BOOSTERS
def model_evaluate(csv_path: str, text_column: str, label_column: str, folds: int | None,
                   version: str | None, as_json: bool, boosters: bool) -> None:
    """Accuracy, macro-F1, per-class figures and coverage at 95% precision on a labelled CSV."""
    if folds is not None and version is not None:
        raise click.UsageError("choose --folds or --version, not both")
    with _engine() as engine:
        evaluation = _ops().evaluate_csv(engine, csv_path, text_column, label_column,
                                         folds=folds or 5, version=version,
                                         boosters=boosters)
    if as_json:
        click.echo(to_json({"subject": evaluation.subject,
                                   "dropped_labels": evaluation.dropped_labels,
                                   **evaluation.report.to_dict()}))
        return
    click.echo("\n".join([evaluation.subject, *_dropped(evaluation.dropped_labels), "",
                          evaluation.report.format_table()]))


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    """``90``, ``90s``, ``30m``, ``24h`` or ``1d`` as seconds (at least one)."""
    if value is None:
        return None
    text = value.strip().lower()
    unit = _DURATION_UNITS.get(text[-1:])
    number = text[:-1] if unit is not None else text
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise click.BadParameter(f"{value!r}: use seconds or 30m, 24h, 1d") from None
    if not seconds >= 1:
        raise click.BadParameter(f"{value!r}: at least one second")
    return seconds


@model_group.command("retrain")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(min=2),
              help="Folds of the held-out evaluation of the new model.")
@click.option("--activate/--no-activate", default=True, show_default=True,
              help="Make the new version the active one.")
@click.option("--min-corrections", default=1, show_default=True, type=click.IntRange(min=1),
              help="Refuse while fewer corrections than this are new to the active model.")
@click.option("--only-if-better", is_flag=True,
              help="Activate only if the new model scores at least the active model's accuracy "
                   "(it is stored either way).")
@click.option("--every", callback=_duration, metavar="DURATION",
              help="The optional schedule: run again every DURATION (90s, 30m, 24h, 1d) until "
                   "stopped. A round with nothing to retrain or an unreachable database is "
                   "reported and the next round comes.")
@click.option("--max-rounds", default=0, show_default=True, type=click.IntRange(min=0),
              help="With --every: stop after this many rounds (0: never).")
def model_retrain(folds: int, activate: bool, min_corrections: int, only_if_better: bool,
                  every: float | None, max_rounds: int) -> None:
    """Train on the shipped examples plus agents' corrections; compare with the active model.

    Both are scored on the rows the active model has not learned from.
    """
    options = {"folds": folds, "activate": activate, "min_corrections": min_corrections,
               "only_if_better": only_if_better}
    if every is None:
        _retrain_round(**options)
        return
    done = 0
    while True:
        done += 1
        stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        click.echo(f"[{stamp}] retrain round {done}")
        try:
            _retrain_round(**options)
        except CommandError as exc:   # reported; the schedule goes on
            click.echo(f"[{stamp}] round {done}: {exc}", err=True)
        if max_rounds and done >= max_rounds:
            return
        time.sleep(every)


def _retrain_round(*, folds: int, activate: bool, min_corrections: int,
                   only_if_better: bool) -> None:
    with _engine() as engine:
        result = _ops().retrain(engine, folds=folds, activate=activate,
                                min_corrections=min_corrections, only_if_better=only_if_better)
    withheld = ([f"not activated: its accuracy {result.after.accuracy:.4f} is below the active "
                 f"model's {result.before.accuracy:.4f}"] if result.withheld else [])
    click.echo("\n".join([
        f"training data: shipped examples + {result.corrections} corrected tickets",
        *_dropped(result.dropped_labels),
        f"evaluated on: {result.evaluated_on}",
        "", f"before: {result.before_version} (the active model)", result.before.format_table(),
        "", f"after: {result.version.version} (the new model)", result.after.format_table(),
        "", _comparison(result.before, result.after),
        *withheld,
        _activation_note(result.version),
    ]))


@model_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def model_list(as_json: bool) -> None:
    """Stored versions with their metrics; * marks the active one."""
    with _engine() as engine:
        versions = ModelRegistry(engine).versions()
    if as_json:
        click.echo(to_json([v.to_dict() for v in versions]))
        return
    lines = [_version_rows(versions)]
    if not any(v.active for v in versions):
        lines.append("no version is active: the services use the shipped default model "
                     "(or AI_SERVICE_MODEL_PATH)")
    click.echo("\n".join(lines))


@model_group.command("activate")
@click.argument("version")
def model_activate(version: str) -> None:
    """Make VERSION the model every AI consumer and web worker uses."""
    with _engine() as engine:
        activated = ModelRegistry(engine).activate(version)
    click.echo(_activation_note(activated))


@model_group.command("deactivate")
def model_deactivate() -> None:
    """No active version: the services go back to the shipped default model."""
    with _engine() as engine:
        previous = ModelRegistry(engine).deactivate()
    click.echo("no version was active" if previous is None else
               f"model {previous.version} deactivated: running services switch back to the "
               f"shipped default model within AI_SERVICE_MODEL_REFRESH_S (default 5 s)")


@model_group.command("upgrade")
def model_upgrade() -> None:
    """Store the versions saved in the old joblib format in the NumPy one (serving them then
    needs no scikit-learn)."""
    with _engine() as engine:
        upgraded = ModelRegistry(engine).upgrade_artifacts()
    click.echo("every stored version is in the NumPy format already" if not upgraded else
               f"stored in the NumPy format: {', '.join(upgraded)}")
