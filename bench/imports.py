"""Bulk import of a 10,000-row CSV, with the audit log recording every row and without it.

Prints JSON: seconds per run (median of --repeat), audit rows written, and the same import with
the audit listener removed as the baseline, each on a fresh SQLite database (or a
fresh schema of TEST_DATABASE_URL on PostgreSQL). Target: at most 60 s with audit.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from app import audit  # noqa: E402
from app.config import PROJECT_ROOT, Settings  # noqa: E402
from app.db import make_engine, make_session_factory, unit_of_work  # noqa: E402
from app.main import create_app  # noqa: E402
from app.services import taxonomy  # noqa: E402
from bench._util import cpu_snapshot, foreign_cores  # noqa: E402
from matching.uscc import check_character  # noqa: E402
from models import AuditEntry, SmeProfile  # noqa: E402
from tests.dbutil import fresh_database, migrate  # noqa: E402

TOKEN = "bench-admin-token"


def big_csv(rows: int) -> bytes:
    lines = ["企业名称,统一社会信用代码,所在城市,企业梯度,主营产品,工艺能力,资质证书,企业简介"]
    for i in range(rows):
        body = f"91370300{i:09d}"
        lines.append(
            f"淄博测试{i}有限公司,{body + check_character(body)},淄博市,专精特新中小企业,"
            f"氧化锆陶瓷结构件、陶瓷轴承球,等静压成型、精密磨削,ISO 9001、ISO 14001,"
            f"精密陶瓷零件生产企业，编号{i}"
        )
    return "\n".join(lines).encode()


def one_run(content: bytes, with_audit: bool, tmp: Path) -> dict:
    with fresh_database(tmp) as url:
        migrate(url)
        engine = make_engine(url)
        with unit_of_work(make_session_factory(engine)) as session:
            taxonomy.load_taxonomy_dir(session, PROJECT_ROOT / "data" / "chains", "sd-2022")
        settings = Settings(
            database_url=url,
            demo=False,
            encoder="hashing",
            index_poll_seconds=0,
            encode_poll_seconds=0,
            admin_token=TOKEN,
        )
        if not with_audit:
            event.remove(Session, "after_flush", audit._after_flush)
        try:
            app = create_app(settings)
            with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
                start = time.perf_counter()
                r = client.post(
                    "/api/v1/import/smes", files={"file": ("big.csv", content, "text/csv")}
                )
                seconds = time.perf_counter() - start
            assert r.status_code == 201, r.text[:500]
        finally:
            audit.install()
        with engine.connect() as conn:
            audited = conn.scalar(select(func.count()).select_from(AuditEntry))
            stored = conn.scalar(select(func.count()).select_from(SmeProfile))
        engine.dispose()
    return {"seconds": seconds, "audit_rows": audited, "profiles": stored}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    content = big_csv(args.rows)
    runs: dict[str, list[dict]] = {"audited": [], "no_audit": []}
    before = cpu_snapshot()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            for kind in runs:
                runs[kind].append(one_run(content, kind == "audited", Path(tmp) / f"{kind}{i}"))
    after = cpu_snapshot()
    audited = statistics.median(r["seconds"] for r in runs["audited"])
    baseline = statistics.median(r["seconds"] for r in runs["no_audit"])
    print(
        json.dumps(
            {
                "rows": args.rows,
                "file_bytes": len(content),
                "median_s_with_audit": round(audited, 2),
                "median_s_without_audit": round(baseline, 2),
                "audit_overhead": round(audited / baseline, 2),
                "audit_rows": runs["audited"][0]["audit_rows"],
                "profiles": runs["audited"][0]["profiles"],
                "target_s": 60,
                "foreign_cpu_cores": foreign_cores(before, after),
            },
            ensure_ascii=False,
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
