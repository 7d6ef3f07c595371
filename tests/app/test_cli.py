"""The command line: seeding (once), encoding with progress, reindex after a model change."""

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings
from app.db import make_engine
from app.services import import_jobs
from app.services.auth import Principal
from models import Demand, Embedding, ImportJob, IndexChange, SmeProfile
from tests.dbutil import fresh_database, migrate
from tests.factories import sme_payload


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with fresh_database(tmp_path) as url:
        migrate(url)
        monkeypatch.setenv("CHAINMATCH_DATABASE_URL", url)
        monkeypatch.setenv("CHAINMATCH_ENCODER", "hashing")
        get_settings.cache_clear()
        engine = make_engine(url)
        yield engine
        engine.dispose()
        get_settings.cache_clear()


def count(engine, stmt) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(stmt) or 0)


def test_seed_demo_encodes_then_reindex(cli_env) -> None:
    runner = CliRunner()
    r = runner.invoke(cli, ["seed-demo"])
    assert r.exit_code == 0, r.output
    assert "SME profiles, 4 demo accounts added" in r.output and "encoded" in r.output
    smes = count(cli_env, select(func.count()).select_from(SmeProfile))
    vectors = count(
        cli_env, select(func.count()).select_from(Embedding).where(Embedding.entity_type == "sme")
    )
    assert smes >= 400 and vectors == smes

    again = runner.invoke(cli, ["seed-demo", "--if-empty"])
    assert "already loaded" in again.output
    assert count(cli_env, select(func.count()).select_from(SmeProfile)) == smes

    nothing = runner.invoke(cli, ["reindex"])
    assert nothing.exit_code == 0 and "encoded" not in nothing.output
    forced = runner.invoke(cli, ["reindex", "--force"])
    assert forced.exit_code == 0, forced.output
    demands = count(cli_env, select(func.count()).select_from(Demand))
    assert f"encoded {smes + demands} texts" in forced.output
    assert "encoded 324 chain links" in forced.output
    assert (
        count(
            cli_env,
            select(func.count()).select_from(Embedding).where(Embedding.entity_type == "sme"),
        )
        == smes
    )


def test_show_settings(cli_env) -> None:
    r = CliRunner().invoke(cli, ["show-settings"])
    assert r.exit_code == 0 and '"encoder": "hashing"' in r.output


def test_import_command(cli_env, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["seed-taxonomy"]).exit_code == 0
    good = tmp_path / "smes.csv"
    good.write_text(
        "企业名称,所在城市,企业梯度,主营产品\n甲有限公司,青岛市,小巨人,液压阀\n", encoding="utf-8"
    )
    r = runner.invoke(cli, ["import", str(good), "--kind", "smes"])
    assert r.exit_code == 0, r.output
    assert "1 created" in r.output and "encoded 1 texts" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "企业名称,所在城市,企业梯度,主营产品\n乙有限公司,火星,小巨人,阀\n", encoding="utf-8"
    )
    r = runner.invoke(cli, ["import", str(bad), "--kind", "smes"])
    assert r.exit_code == 1 and "nothing imported" in r.output and "第2行" in r.output
    assert count(cli_env, select(func.count()).select_from(SmeProfile)) == 1


def test_export_and_restore_round_trip(cli_env, tmp_path: Path, monkeypatch) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["seed-demo"]).exit_code == 0
    first = tmp_path / "first"
    r = runner.invoke(cli, ["export", str(first)])
    assert r.exit_code == 0, r.output
    assert (first / "chainmatch.xlsx").exists() and (first / "sme_profiles.jsonl").exists()
    refused = runner.invoke(cli, ["import", str(first), "--restore"])
    assert refused.exit_code == 1 and "非空" in refused.output  # never on top of data
    with fresh_database(tmp_path / "other") as url:
        migrate(url)
        monkeypatch.setenv("CHAINMATCH_DATABASE_URL", url)
        get_settings.cache_clear()
        r = runner.invoke(cli, ["import", str(first), "--restore"])
        assert r.exit_code == 0, r.output
        second = tmp_path / "second"
        assert runner.invoke(cli, ["export", str(second)]).exit_code == 0
        for path in sorted(first.glob("*.jsonl")):
            assert path.read_text(encoding="utf-8") == (second / path.name).read_text(
                encoding="utf-8"
            ), path.name
        # the restored database keeps working: new ids continue after the restored ones
        engine = make_engine(url)
        with engine.begin() as conn:
            before = conn.scalar(select(func.max(SmeProfile.id)))
        engine.dispose()
        good = tmp_path / "one.csv"
        good.write_text(
            "企业名称,所在城市,企业梯度,主营产品\n丙有限公司,青岛市,小巨人,阀\n", "utf-8"
        )
        assert runner.invoke(cli, ["import", str(good), "--kind", "smes"]).exit_code == 0
        engine = make_engine(url)
        with engine.begin() as conn:
            assert conn.scalar(select(func.max(SmeProfile.id))) == before + 1
        engine.dispose()


def test_eval_prints_the_real_set_table_and_refuses_unknown_sets(cli_env) -> None:
    """`chainmatch eval --set real` in one run: full, baselines, the blend, both directions."""
    import json

    runner = CliRunner()
    r = runner.invoke(cli, ["eval", "--set", "real", "--no-ablations", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert set(out["demand_to_smes"]) == {"full", "tfidf", "dense", "blend"}
    assert out["demand_to_smes"]["full"]["queries"] == 73  # the test split
    assert set(out["by_tag"]) == {"named", "paraphrased"}
    assert out["sme_to_demands"]["full"]["queries"] > 0 and out["full_vs_blend"] > 0
    for option, value in (("--set", "nope"), ("--split", "held"), ("--variant", "odd")):
        r = runner.invoke(cli, ["eval", option, value])
        assert r.exit_code == 2 and option in r.output, r.output


def test_index_status_and_reindex_show_progress(cli_env, tmp_path: Path) -> None:
    from app.db import make_session_factory, unit_of_work
    from app.repositories import matching as matching_repo

    runner = CliRunner()
    assert runner.invoke(cli, ["seed-taxonomy"]).exit_code == 0
    rows = tmp_path / "smes.csv"
    rows.write_text(
        "企业名称,所在城市,企业梯度,主营产品\n"
        "甲有限公司,青岛市,小巨人,液压阀\n乙有限公司,济南市,小巨人,齿轮\n"
        "丙有限公司,烟台市,小巨人,轴承\n",
        encoding="utf-8",
    )
    assert runner.invoke(cli, ["import", str(rows), "--kind", "smes"]).exit_code == 0
    shown = runner.invoke(cli, ["index-status"])
    assert shown.exit_code == 0, shown.output
    assert "pending_encodings: 0" in shown.output and "SME profiles" in shown.output

    # Vectors gone (a model change): three texts wait, and nobody encodes them.
    with unit_of_work(make_session_factory(cli_env)) as session:
        matching_repo.delete_embeddings(session, "hashing-char13-256")
    shown = runner.invoke(cli, ["index-status"])
    assert "pending_encodings: 3" in shown.output
    waited = runner.invoke(cli, ["index-status", "--watch", "--interval", "0.05", "--timeout", "0"])
    assert waited.exit_code == 1 and "pending_encodings: 3" in waited.output

    r = runner.invoke(cli, ["reindex"])
    assert r.exit_code == 0, r.output
    assert "3/3" in r.output and "texts/s" in r.output and "left" in r.output
    assert "encoded 3 texts" in r.output
    assert "pending_encodings: 0" in runner.invoke(cli, ["index-status"]).output


def test_encode_worker_encodes_the_queue_until_stopped(cli_env, tmp_path: Path) -> None:
    """The encoder apart from the API processes: a process that drains the queue as it fills."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from app.db import make_session_factory, unit_of_work
    from app.repositories import matching as matching_repo

    runner = CliRunner()
    assert runner.invoke(cli, ["seed-taxonomy"]).exit_code == 0
    rows = tmp_path / "smes.csv"
    rows.write_text(
        "企业名称,所在城市,企业梯度,主营产品\n甲有限公司,青岛市,小巨人,液压阀\n"
        "乙有限公司,济南市,小巨人,齿轮\n",
        encoding="utf-8",
    )
    assert runner.invoke(cli, ["import", str(rows), "--kind", "smes"]).exit_code == 0
    with unit_of_work(make_session_factory(cli_env)) as session:
        matching_repo.delete_embeddings(session, "hashing-char13-256")
    vectors = select(func.count()).select_from(Embedding).where(Embedding.entity_type == "sme")
    assert count(cli_env, vectors) == 0

    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from app.cli import main; main()",
            "encode-worker",
            "--poll",
            "0.1",
        ],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while count(cli_env, vectors) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert count(cli_env, vectors) == 2
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, output
    assert "encoded 2 texts" in output and "encode worker stopped" in output


def test_import_worker_runs_queued_jobs_once(cli_env) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["seed-taxonomy"]).exit_code == 0
    admin = Principal(role="admin")
    rows = [sme_payload(name="潍坊甲有限公司"), sme_payload(name="潍坊乙有限公司")]
    with Session(cli_env) as session:
        good = import_jobs.submit_rows(session, admin, "smes", rows, get_settings())
        bad = import_jobs.submit_rows(session, admin, "smes", [{"name": ""}], get_settings())
        session.commit()
    r = runner.invoke(cli, ["import-worker", "--once"])
    assert r.exit_code == 0, r.output
    assert f"import job {good.id}: 已完成, 2 created" in r.output
    assert f"import job {bad.id}: 未导入, 0 created" in r.output
    assert count(cli_env, select(func.count()).select_from(SmeProfile)) == 2
    # The API processes learn of the rows from the change log; the encoding queue has them.
    with Session(cli_env) as session:
        ids = session.get(ImportJob, good.id).ids
        logged = session.scalars(
            select(IndexChange.entity_id).where(IndexChange.entity_type == "sme")
        ).all()
    assert set(ids) <= set(logged)
    # Nothing left to run: --once returns at once.
    again = runner.invoke(cli, ["import-worker", "--once"])
    assert again.exit_code == 0 and "import job" not in again.output.replace("import worker", "")
