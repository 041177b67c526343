"""The upload benchmark's steps run end to end on a small file, and its counts add up."""

from __future__ import annotations

from backend.migrate import upgrade
from bench import uploads

ROWS = 2000
DATABASE = "nearbank_bench_uploads_smoke"


def test_upload_benchmark_steps_and_counts_add_up(database_url, tmp_path):
    info = uploads.ensure_csv(ROWS, seed=7, directory=tmp_path, progress=False)
    assert info.rows == ROWS and info.planted_errors > 0 and info.planted_warnings > 0
    assert {"GB", "SG", "HK"} <= set(info.countries)
    assert uploads.ensure_csv(ROWS, seed=7, directory=tmp_path, progress=False) == info  # reused

    url = uploads.recreate_database(database_url, DATABASE)
    try:
        upgrade(url)
        result = uploads.measure_size(url, info, progress=False)
    finally:
        uploads.drop_database(database_url, DATABASE)

    dry, again = result.dry_summary, result.reupload_summary
    assert dry["records"] == result.parsed == result.copy_rows == ROWS
    assert dry["rejected"] == info.planted_errors
    assert dry["create"] == result.places == ROWS - dry["rejected"]
    assert dry["with_warnings"] >= info.planted_warnings
    assert result.near_duplicate_warnings >= info.planted_near_duplicates
    assert again["unchanged"] == dry["create"] and again["create"] == again["update"] == 0
    assert result.consistency(info) == []

    # The timed parts are there and fit inside their steps.
    for phase in (result.copy, result.dry_run, result.apply, result.reupload):
        assert phase.seconds > 0 and phase.peak_rss_mib is not None
    assert result.dry_run.stage_s is not None
    assert 0 < result.dry_run.stage_s < result.dry_run.seconds
    assert "diff: upload_rows written, joined with places (changed fields, actions)" \
        in result.dry_run.sql
    assert "apply: insert new places, with history" in result.apply.sql
    assert sum(result.apply.sql.values()) <= result.apply.seconds
    assert uploads.SizeResult.from_json(result.to_json()) == result

    # The report's tables render from these results.
    assert f"| {ROWS:,} |" in uploads.results_table([result])
    assert "| yes |" in uploads.outcome_table([result], {ROWS: info})
    assert "staging: CSV parsing" in uploads.breakdown_table(result)
