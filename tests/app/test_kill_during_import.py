"""The server killed in the middle of a bulk import leaves the database as it was."""

import signal
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from app.config import PROJECT_ROOT
from app.db import make_engine, make_session_factory, unit_of_work
from app.services import taxonomy
from matching.uscc import check_character
from models import Enterprise, SmeProfile
from tests.dbutil import fresh_database, migrate
from tests.servers import ADMIN_HEADERS, running_server, server_env


def _big_csv(rows: int) -> bytes:
    lines = ["企业名称,统一社会信用代码,所在城市,企业梯度,主营产品,企业简介"]
    for i in range(rows):
        body = f"91370300{i:09d}"
        lines.append(
            f"淄博测试{i}有限公司,{body + check_character(body)},淄博市,专精特新中小企业,"
            f"氧化锆陶瓷结构件、陶瓷轴承球,精密陶瓷零件生产企业，编号{i}"
        )
    return "\n".join(lines).encode()


def test_kill_mid_import_changes_nothing(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        migrate(url)
        engine = make_engine(url)
        with unit_of_work(make_session_factory(engine)) as session:
            taxonomy.load_taxonomy_dir(session, PROJECT_ROOT / "data" / "chains", "sd-2022")
        env = server_env(url, encode_poll_seconds="0")
        with running_server(env) as (base, server):
            content = _big_csv(10_000)
            outcome: dict = {}

            def upload() -> None:
                try:
                    outcome["status"] = httpx.post(
                        f"{base}/import/smes",
                        files={"file": ("big.csv", content)},
                        headers=ADMIN_HEADERS,
                        timeout=120,
                    ).status_code
                except httpx.HTTPError as exc:
                    outcome["error"] = type(exc).__name__

            thread = threading.Thread(target=upload)
            thread.start()
            time.sleep(3.0)  # well inside the import: 10,000 rows take tens of seconds
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=20)
            thread.join(timeout=30)
            assert "status" not in outcome, "the import finished before the kill; use more rows"
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(SmeProfile)) == 0
            assert conn.scalar(select(func.count()).select_from(Enterprise)) == 0
        engine.dispose()
