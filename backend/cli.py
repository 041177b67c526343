"""`flask` commands: database set-up, users, loading place files."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app

from backend.extensions import db


def register_cli(app: Flask) -> None:
    """Attach the project's command groups to the app."""
    app.cli.add_command(db_group)
    app.cli.add_command(users_group)
    app.cli.add_command(places_group)
    app.cli.add_command(uploads_group)
    app.cli.add_command(privacy_group)
    app.cli.add_command(queue_group)


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from backend.migrate import upgrade

    config = current_app.config
    upgrade(config.get("DATABASE_OWNER_URL") or config["SQLALCHEMY_DATABASE_URI"])
    click.echo("database schema is current")


@click.group("users")
def users_group() -> None:
    """User accounts."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", default=None)
@click.option("--card-tier", default=None)
@click.option("--if-missing", is_flag=True, help="Do nothing when the e-mail address exists.")
def users_create(email: str, role: str, password: str, display_name: str | None,
                 card_tier: str | None, if_missing: bool) -> None:
    """Create a user with a role (cardholder, maintainer, merchant, reviewer, admin)."""
    from backend.accounts import service
    from backend.errors import AppError

    if if_missing and service.find_user_by_email(db.session, email):
        click.echo(f"{email} exists already")
        return
    try:
        user = service.create_user(db.session, email, password, role, display_name, card_tier)
    except AppError as exc:
        details = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors or [])
        raise click.ClickException(f"{exc.detail} {details}".strip()) from None
    click.echo(f"created {user.role} {user.email}")


@click.group("places")
def places_group() -> None:
    """Branches, ATMs and partner outlets."""


@places_group.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--if-empty", is_flag=True, help="Load only when there are no places yet.")
def places_load(path: str, if_empty: bool) -> None:
    """Load a place file in the project's CSV or GeoJSON format (insert or update)."""
    from backend.uploads.loader import count_places, load_places_file

    if if_empty and count_places(db.session):
        click.echo("places exist already; nothing loaded")
        return
    written = 0

    def progress(count: int) -> None:
        nonlocal written
        written += count
        click.echo(f"\r  written {written} places", nl=False, err=True)

    report = load_places_file(db.session, path, progress=progress)
    if written:
        click.echo("", err=True)
    click.echo(report.summary())
    if report.errors:
        for error in report.errors[:20]:
            click.echo(f"  {error}", err=True)
        raise click.ClickException(f"{len(report.errors)} record(s) rejected; nothing loaded")


@places_group.command("reorder")
def places_reorder() -> None:
    """Store the places in spatial order (CLUSTER on the location index): faster searches.

    Run it after a bulk load and from time to time; the table is locked while it runs.
    """
    from sqlalchemy import create_engine

    from backend.places.service import store_in_spatial_order

    # CLUSTER needs the table's owner, as migrations do.
    config = current_app.config
    engine = create_engine(config.get("DATABASE_OWNER_URL")
                           or config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.begin() as connection:
            store_in_spatial_order(connection)
    finally:
        engine.dispose()
    click.echo("places stored in spatial order")


@click.group("uploads")
def uploads_group() -> None:
    """Maintainers' bulk uploads (the same workflow as the API)."""


@uploads_group.command("submit")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--source", required=True, help="The data source the file describes.")
@click.option("--mode", type=click.Choice(["merge", "sync"]), default="merge", show_default=True)
@click.option("--format", "file_format", default=None, help="Detected when not given.")
@click.option("--columns", default=None,
              help='Read any CSV: a JSON object from our field names to its headers, e.g. '
                   '\'{"external_id": "ID", "lat": "Latitude", "lon": "Longitude"}\'.')
@click.option("--default", "defaults", multiple=True, metavar="FIELD=VALUE",
              help="A value for a field the records leave empty (repeatable).")
@click.option("--apply", "apply_now", is_flag=True, help="Apply the batch after the dry run.")
def uploads_submit(path: str, source: str, mode: str, file_format: str | None,
                   columns: str | None, defaults: tuple[str, ...], apply_now: bool) -> None:
    """Dry-run a file (and optionally apply it), with a progress bar and a summary."""
    import getpass
    import os

    from backend.errors import AppError
    from backend.geocoding import app_geocoder
    from backend.uploads import service

    via = f"cli:{getpass.getuser()}"
    default_values = {}
    for item in defaults:
        field, equals, value = item.partition("=")
        if not equals or not field.strip():
            raise click.BadParameter(f"{item!r} is not FIELD=VALUE", param_hint="--default")
        default_values[field.strip()] = value.strip()
    with open(path, "rb") as stream, click.progressbar(
            length=os.path.getsize(path), label="reading", file=sys.stderr,
            show_percent=True) as bar:
        done = 0

        def progress(records: int) -> None:
            nonlocal done
            position = stream.tell()
            bar.label = f"read {records} records"
            bar.update(position - done)
            done = position

        try:
            batch = service.submit_upload(db.session, stream, os.path.basename(path), source,
                                          mode, actor_id=None, via=via,
                                          file_format=file_format, geocoder=app_geocoder(),
                                          progress=progress, columns=columns,
                                          defaults=default_values or None)
        except AppError as exc:
            details = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors or [])
            raise click.ClickException(f"{exc.detail} {details}".strip()) from None
        bar.update(os.path.getsize(path) - done)
    report = service.batch_report(db.session, batch, items=20)
    click.echo(f"upload {report['id']} ({report['format']}, {mode}): "
               + ", ".join(f"{k} {v}" for k, v in report["summary"].items()))
    for issue in report["issues"]:
        click.echo(f"  {issue['severity']}: {issue['locator']}: {issue['field']}: "
                   f"{issue['message']}")
    if report["issues_truncated"]:
        click.echo("  ... more in the report (GET /api/v1/uploads/<id>/report.csv)")
    if apply_now:
        try:
            service.apply_upload(db.session, batch, actor_id=None, via=via)
        except AppError as exc:
            raise click.ClickException(exc.detail or exc.title) from None
        click.echo("applied")


@click.group("privacy")
def privacy_group() -> None:
    """Personal data: retention."""


@privacy_group.command("purge")
@click.option("--log-dir", "log_dirs", multiple=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder of access logs whose rotated files expire (repeatable).")
def privacy_purge(log_dirs: tuple[Path, ...]) -> None:
    """Remove what is past its retention (see docs/privacy.md); run daily after 00:00 UTC."""
    from datetime import UTC, datetime

    from backend.privacy.purge import purge

    report = purge(db.session, datetime.now(UTC), log_folders=log_dirs)
    for line in report.lines():
        click.echo(line)
@click.group("queue")
def queue_group() -> None:
    """Branch queues: queue-system accounts, the simulator, typical waits."""


@queue_group.command("bind")
@click.argument("email")
@click.argument("branches", nargs=-1, required=True)
def queue_bind(email: str, branches: tuple[str, ...]) -> None:
    """Let a queue_system account report for BRANCHES (public ids or external ids)."""
    from backend.accounts.service import find_user_by_email
    from backend.errors import AppError
    from backend.queues.service import bind_branches

    user = find_user_by_email(db.session, email)
    if user is None:
        raise click.ClickException(f"No account {email} (flask users create --role "
                                   "queue_system first).")
    try:
        names = bind_branches(db.session, user.id, branches)
    except AppError as exc:
        raise click.ClickException(exc.detail or exc.title) from None
    click.echo(f"{email} reports for: " + ", ".join(names))


@queue_group.command("simulate")
@click.option("--seed", default=1, show_default=True, help="The same seed gives the same day.")
@click.option("--start", default="11:00", show_default=True,
              help="Simulated local time of day at launch (branches are busy then).")
@click.option("--speed", default=1.0, show_default=True,
              help="Simulated seconds per real second.")
@click.option("--interval", default=15.0, show_default=True, help="Seconds between reports.")
@click.option("--duration", default=0.0, show_default=True,
              help="Real seconds to run; 0 runs until stopped.")
@click.option("--account", default="queue-simulator@example.com", show_default=True,
              help="The queue_system account it reports as (created and bound if missing).")
@click.option("--source", default="nearbank-sample", show_default=True,
              help="Report for the active branches of this data source ('' for all).")
@click.option("--ready-file", type=click.Path(dir_okay=False), default=None,
              help="Create this file once the first reports are stored.")
def queue_simulate(seed: int, start: str, speed: float, interval: float, duration: float,
                   account: str, source: str, ready_file: str | None) -> None:
    """Feed branches with simulated queues (arrivals, service, desks), as a queue system."""
    from backend.queues.feed import run_feed, simulator_account
    from backend.queues.simulator import SampleFeed

    user_id = simulator_account(db.session, account, source or None)
    run_feed(db.session, current_app.extensions["queue_store"], user_id,
             SampleFeed(seed, start, speed), interval, duration,
             current_app.config["QUEUE_LIVE_TTL_SECONDS"], echo=click.echo,
             ready_file=Path(ready_file) if ready_file else None)


@queue_group.command("flush")
def queue_flush() -> None:
    """Move the typical-wait sums gathered in Redis to PostgreSQL now (else once a minute)."""
    from backend.queues.service import flush_aggregates

    rows = flush_aggregates(db.session, current_app.extensions["queue_store"])
    click.echo(f"typical waits updated: {rows} branch line hours")
