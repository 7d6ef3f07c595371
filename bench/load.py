"""Ranking under load on PostgreSQL while another client bulk-imports profiles.

What it measures, against a real ``uvicorn app.main:app`` (--workers processes, default one, each
with its own in-memory index kept in step through the change log) on a PostgreSQL database of its
own. uvicorn's workers share one listening socket and the kernel hands each new connection to
whichever worker accepts first, so 16 keep-alive clients can land 16 to 4 (measured:
``connections_per_process``); --processes N starts N servers on ports of their own instead and
client k talks to server k mod N, the spread a round-robin balancer in front of N processes gives;
--encode-worker moves the background encoding out of the servers into one ``chainmatch
encode-worker`` process at nice --worker-nice (servers with CHAINMATCH_ENCODE_POLL_SECONDS=0), and
--import-worker the import jobs into one ``chainmatch import-worker`` at the same nice (servers
with CHAINMATCH_IMPORT_POLL_SECONDS=0):

- set-up: the database ``--db-name`` (default ``chainmatch_load``) on the server of --pg-url is
  dropped and created (``--reuse`` keeps an existing one, soft-deletes in SQL what earlier runs
  imported and posted, and seeds only when it holds no profile), migrated with ``alembic upgrade
  head``, the taxonomy loaded with ``chainmatch seed-taxonomy``, then ``bench/seed_scale.py:
  seed()`` stores --profiles SME profiles and --needs needs with vectors under the server's
  encoder name (the default e5 one), so nothing waits for encoding when the server starts (a
  server without link vectors encodes the taxonomy's links first, then re-places every profile:
  the load waits for that, and for one first ranking). ``ANALYZE`` follows (bulk-loaded tables
  have no planner statistics, and a server without autovacuum never gets them). Each step is
  timed; so is the server's start-up (from launch to the first 200 of ``GET /api/v1/health``: it
  loads the whole index first);
- load: --clients threads, each with its own keep-alive ``httpx.Client``, loop ranking requests as
  the admin (static ``CHAINMATCH_ADMIN_TOKEN``) for random stored ids: ``GET
  /demands/{id}/matches?limit=20`` (SMEs for a need) and, for a --sme-share of the requests,
  ``GET /smes/{id}/matches?limit=20`` (needs for an SME), back to back (``--think-ms`` adds a
  pause); for at least --duration-s, and on until the import is done and every probe below has
  found its row (or --probe-timeout-s after the import);
- meanwhile, --import-after-s into the load, one more client imports --import-rows new SME
  profiles through ``POST /api/v1/smes/bulk`` (all or nothing per request; --import-chunk rows a
  request, default all of them in one, the endpoint's limit being 10,000), or with --import-via
  job as import jobs (``POST /api/v1/import/jobs/smes/rows``, then ``GET`` its Location every
  0.5 s until it is done; the import ends when the last job is done). Every row has distinct
  text with a marker of its own (four random CJK characters) in its name, first product and
  description;
- visibility: before the load starts, one need per probe row (--probes rows spread over the
  import) is posted with the row's marker as title and keyword. From the start of the import a
  probe client asks ``GET /demands/{probe}/matches?limit=5`` for each probe until the row with
  that marker ranks first: seconds from the start of the import and from the end of the request
  that carried the row (lexical: the imported rows have no vectors yet). A second probe client
  asks the same with free text (``POST /match``, which encodes the query with e5 on the one
  encoder thread, so it queues behind the encoding of the import);
- encoding: ``GET /index/status`` every --status-every-s: ``pending_encodings`` over time, the
  encode rate (profiles a second, from the start of the import to the end of the load), and
  with --wait-encoded the seconds until it reaches 0 after the import (e5 on 2 cores: 10,000
  profiles with their products take about an hour; without the flag the pending count at the
  end is reported);
- per endpoint: count, p50/p90/p99/max ms, requests per second, over the whole load and apart for
  before / during / after the import; errors by status code or exception name (target: none);
- the server: RSS and peak RSS (/proc/<pid>/status) after start-up, after the load and at the
  end; CPU cores used by the server, by this process (the clients), by the PostgreSQL backends of
  the database and by other processes during the load (``disturbed`` above 0.3 cores of other
  work); ERROR lines and tracebacks in its log; with ``--py-spy [PATH]``, the server sampled by
  py-spy during the load: the functions with the largest shares of samples.

Targets: 0 errors; ranking p99 at most 500 ms on PostgreSQL (each ranking endpoint, whole load).
The clients stand for 16 people using the service (--think-ms 1000: a pause of 0-2 s between
rankings); back to back they keep 16 requests in flight on two cores, which measures throughput
(latency is then about 16 x the CPU a ranking costs / 2, whatever the code does).

    .venv/bin/python bench/load.py --processes 2 --encode-worker --import-worker \
        --import-via job --think-ms 1000      # the deployment README's figures are for

Progress goes to stderr; one JSON object to stdout at the end. The database is dropped at the end
unless --keep or --reuse; the server log (and the py-spy profile, with --py-spy) stays in a temp
dir with --keep or on failure.

    .venv/bin/python bench/load.py [--profiles 100000] [--needs 1000] [--clients 16]
        [--duration-s 120] [--import-rows 10000] [--reuse] [--keep] [--wait-encoded]
    .venv/bin/python bench/load.py --profiles 5000 --import-rows 500 --duration-s 30  # quick
"""

import argparse
import importlib.util
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa
from _util import stop_process
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from matching.encoders import make_encoder  # noqa: E402
from matching.uscc import ALPHABET, check_character  # noqa: E402

BIN = Path(sys.executable).parent
API = "/api/v1"
TOKEN = "load-bench-admin-token"
TARGET_P99_MS = 500.0
RANKING = ("demand_matches", "sme_matches")
# Imported rows' credit codes: this prefix, a tag of the run, the row number.
IMPORT_USCC_PREFIX = "91370800"
TAG_LETTERS = ALPHABET[10:]
PROBE_DESCRIPTION = "bench/load.py probe"


def log(msg: str) -> None:
    print(f"[load] {msg}", file=sys.stderr, flush=True)


def fail(message: str, **extra) -> int:
    print(json.dumps({"bench": "load", "error": message, **extra}, ensure_ascii=False, indent=2))
    return 2


def stats(samples_ms: list[float], seconds: float | None = None) -> dict:
    if not samples_ms:
        return {"n": 0}
    a = np.asarray(samples_ms)
    out = {
        "n": len(samples_ms),
        "p50_ms": round(float(np.percentile(a, 50)), 1),
        "p90_ms": round(float(np.percentile(a, 90)), 1),
        "p99_ms": round(float(np.percentile(a, 99)), 1),
        "max_ms": round(float(a.max()), 1),
        "mean_ms": round(float(a.mean()), 1),
    }
    if seconds:
        out["per_s"] = round(len(samples_ms) / seconds, 1)
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LAUNCHER = """
import signal, subprocess, sys
uvicorn, options, worker, ports = sys.argv[1], sys.argv[2].split(), sys.argv[3], sys.argv[4:]
cmd = [uvicorn, "app.main:app", "--host", "127.0.0.1", *options]
servers = [subprocess.Popen([*cmd, "--port", port]) for port in ports]
for command in filter(None, worker.split(";")):
    servers.append(subprocess.Popen(command.split()))
def stop(*_):
    for server in servers:
        server.terminate()
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
for server in servers:
    server.wait()
"""


def connections(pid: int, ports: list[int]) -> dict[str, int]:
    """Established client connections on the server's ports, per server process."""
    wanted = {f"{port:04X}" for port in ports}
    inodes: dict[str, None] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and fields[1].rsplit(":", 1)[1] in wanted:
                inodes[fields[9]] = None
    out: dict[str, int] = {}
    for p in process_tree(pid):
        try:
            links = [os.readlink(f) for f in Path(f"/proc/{p}/fd").iterdir()]
        except OSError:
            continue
        n = sum(1 for link in links if link.startswith("socket:[") and link[8:-1] in inodes)
        if n:
            out[str(p)] = n
    return out


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (uvicorn --workers runs one child per worker)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += children.get(current, [])
    return out


def _one_memory(pid: int) -> dict | None:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    out = {}
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[{"VmRSS": "rss_mb", "VmHWM": "peak_rss_mb"}[key]] = int(value.split()[0]) / 1024
    return out


def proc_memory(pid: int) -> dict | None:
    """VmRSS and VmHWM (peak) in MB, summed over the process and its workers."""
    parts = [m for p in process_tree(pid) if (m := _one_memory(p))]
    if not parts:
        return None
    return {
        key: round(sum(m.get(key, 0.0) for m in parts), 1) for key in ("rss_mb", "peak_rss_mb")
    } | {"processes": len(parts)}


def _one_cpu_s(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process and its workers."""
    values = [c for p in process_tree(pid) if (c := _one_cpu_s(p)) is not None]
    return sum(values) if values else None


def machine_busy_s() -> float:
    with open("/proc/stat") as f:
        vals = [int(v) for v in f.readline().split()[1:9]]
    return (sum(vals) - vals[3] - vals[4]) / os.sysconf("SC_CLK_TCK")


def load_seeder(path: Path):
    spec = importlib.util.spec_from_file_location("seed_scale", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load a seeder from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.seed


# -- database and server -------------------------------------------------------------------------


class Setup:
    """The bench's own database and the uvicorn process serving it."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        base = make_url(args.pg_url)
        self.admin_url = base.set(database="postgres")
        self.url = base.set(database=args.db_name)
        self.url_str = self.url.render_as_string(hide_password=False)
        self.tmp = Path(tempfile.mkdtemp(prefix="chainmatch-load-"))
        self.env = dict(os.environ)
        self.env.update(
            {
                "CHAINMATCH_DATABASE_URL": self.url_str,
                "CHAINMATCH_DEMO": "0",
                "CHAINMATCH_ADMIN_TOKEN": TOKEN,
            }
        )
        self.encoder_name = ""
        self.timings: dict[str, float] = {}
        self.proc: subprocess.Popen | None = None
        self.base_urls: list[str] = []
        self.ports: list[int] = []
        self.expected_servers = 1
        self.base_url = ""
        self._log = None
        self.created_db = False

    def _admin(self) -> sa.Engine:
        return sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")

    def _exists(self) -> bool:
        engine = self._admin()
        try:
            with engine.connect() as conn:
                return bool(
                    conn.scalar(
                        sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                        {"n": self.args.db_name},
                    )
                )
        finally:
            engine.dispose()

    def _drop(self) -> None:
        engine = self._admin()
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.args.db_name}" WITH (FORCE)'))
        finally:
            engine.dispose()

    def _run(self, label: str, *cmd: str) -> None:
        log(f"set-up: {label}")
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=self.env, check=True, stdout=sys.stderr)
        self.timings[f"{label}_s"] = round(time.perf_counter() - t0, 1)

    def count(self, sql: str) -> int:
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                return int(conn.scalar(sa.text(sql)) or 0)
        finally:
            engine.dispose()

    def ids(self, sql: str) -> list[int]:
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                return [int(i) for i in conn.scalars(sa.text(sql))]
        finally:
            engine.dispose()

    def _remove_earlier_runs(self) -> dict:
        """Soft-delete what earlier runs imported and posted (as DELETE would), in SQL."""
        engine = sa.create_engine(self.url)
        try:
            with engine.begin() as conn:
                smes = conn.execute(
                    sa.text(
                        "UPDATE sme_profiles SET deleted_at = now() WHERE deleted_at IS NULL AND "
                        "enterprise_id IN (SELECT id FROM enterprises WHERE uscc LIKE :p)"
                    ),
                    {"p": f"{IMPORT_USCC_PREFIX}%"},
                ).rowcount
                demands = conn.execute(
                    sa.text(
                        "UPDATE demands SET deleted_at = now() "
                        "WHERE deleted_at IS NULL AND description = :d"
                    ),
                    {"d": PROBE_DESCRIPTION},
                ).rowcount
        finally:
            engine.dispose()
        if smes or demands:
            log(f"--reuse: soft-deleted {smes} imported profiles and {demands} probe needs")
        return {"profiles": smes, "probe_demands": demands}

    def backend_cpu_s(self) -> dict[int, float]:
        """CPU seconds of each PostgreSQL backend connected to this database (same machine)."""
        try:
            pids = self.ids(
                "SELECT pid FROM pg_stat_activity "
                f"WHERE datname = '{self.args.db_name}' AND pid <> pg_backend_pid()"
            )
        except sa.exc.SQLAlchemyError:
            return {}
        return {pid: cpu for pid in pids if (cpu := proc_cpu_s(pid)) is not None}

    def prepare(self) -> dict:
        """Create (or reuse), migrate, load the taxonomy and seed; returns what the set-up did."""
        args = self.args
        settings = Settings(database_url=self.url_str)
        # The server's encoder (CHAINMATCH_ENCODER, default e5): the seeded vectors carry its name.
        self.encoder_name = make_encoder(settings.encoder).name
        reused = args.reuse and self._exists()
        if not reused:
            self._drop()
            engine = self._admin()
            with engine.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{args.db_name}"'))
            engine.dispose()
            self.created_db = True
        self._run("migrate", str(BIN / "alembic"), "upgrade", "head")
        self._run("seed_taxonomy", str(BIN / "chainmatch"), "seed-taxonomy")
        removed = self._remove_earlier_runs() if reused else {}
        existing = self.count("SELECT count(*) FROM sme_profiles WHERE deleted_at IS NULL")
        seeded = False
        if existing and existing != args.profiles:
            log(
                f"--reuse: {args.db_name} holds {existing} profiles, not --profiles {args.profiles}"
            )
        if not existing:
            seed = load_seeder(Path(args.seeder))
            log(
                f"set-up: seeding {args.profiles} profiles and {args.demands} needs ({args.seeder})"
            )
            t0 = time.perf_counter()
            seed(
                self.url_str,
                args.profiles,
                n_demands=args.demands,
                encoder_name=self.encoder_name,
                seed=args.seed,
            )
            self.timings["seed_s"] = round(time.perf_counter() - t0, 1)
            seeded = True
        # Fresh bulk-loaded tables have no planner statistics, and this server may run without
        # autovacuum: without them the pending-encodings count is a nested loop over profiles x
        # embeddings (minutes at 10^5). A production database has them; so does this one now.
        t0 = time.perf_counter()
        engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("ANALYZE"))
                autovacuum = conn.scalar(sa.text("SHOW autovacuum"))
        finally:
            engine.dispose()
        self.timings["analyze_s"] = round(time.perf_counter() - t0, 1)
        return {
            "database": self.url.render_as_string(hide_password=True),
            "postgres_autovacuum": autovacuum,
            "reused": reused,
            "earlier_runs_removed": removed,
            "seeded": seeded,
            "profiles_at_start": self.count(
                "SELECT count(*) FROM sme_profiles WHERE deleted_at IS NULL"
            ),
            "products_at_start": self.count("SELECT count(*) FROM sme_products"),
            "demands_at_start": self.count("SELECT count(*) FROM demands WHERE deleted_at IS NULL"),
            "encoder": self.encoder_name,
        }

    def start_server(self) -> None:
        """One uvicorn (--workers share its socket) or --processes servers, a port each."""
        count = max(self.args.processes, 1)
        ports = [free_port() for _ in range(count)]
        self.base_urls = [f"http://127.0.0.1:{port}" for port in ports]
        self.base_url = self.base_urls[0]
        self.ports = ports
        options = []
        if self.args.workers > 1:
            options += ["--workers", str(self.args.workers)]
        if not self.args.access_log:
            options.append("--no-access-log")
        uvicorn = str(BIN / "uvicorn")
        workers = []
        nice = f"nice -n {self.args.worker_nice} {BIN / 'chainmatch'}"
        if self.args.encode_worker:
            # The encoder in a process of its own at a lower priority; the servers encode
            # nothing in the background (single writes are still encoded in their request).
            self.env["CHAINMATCH_ENCODE_POLL_SECONDS"] = "0"
            workers.append(f"{nice} encode-worker --poll 1")
        if self.args.import_worker:
            # Import jobs in a process of its own at that priority; the servers run none.
            self.env["CHAINMATCH_IMPORT_POLL_SECONDS"] = "0"
            workers.append(f"{nice} import-worker --poll 0.5")
        worker = ";".join(workers)
        if self.args.processes > 1 or worker:
            # A parent that starts the servers (and the worker) and stops them on SIGTERM: one
            # pid for the memory, CPU and py-spy figures, as with uvicorn's own supervisor.
            cmd = [sys.executable, "-c", LAUNCHER, uvicorn, " ".join(options), worker]
            cmd += map(str, ports)
        else:
            cmd = [uvicorn, "app.main:app", "--host", "127.0.0.1", "--port", str(ports[0])]
            cmd += options
        self.expected_servers = max(self.args.workers, 1) * count
        log(f"starting {' '.join(cmd[1:])} (log {self.tmp / 'server.log'})")
        self._log = open(self.tmp / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + self.args.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                healthy = all(
                    httpx.get(f"{url}{API}/health", timeout=2).status_code == 200
                    for url in self.base_urls
                )
            except httpx.HTTPError:
                healthy = False
            # With several workers, one answering is not all of them having loaded the index.
            started = self.log_tail(10**7).count("Application startup complete")
            if healthy and started >= self.expected_servers:
                self.timings["server_startup_s"] = round(time.perf_counter() - t0, 1)
                return
            time.sleep(0.2)
        raise RuntimeError(
            f"server not healthy in {self.args.startup_timeout} s: {self.log_tail()}"
        )

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return (self.tmp / "server.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def log_problems(self) -> dict:
        text = (self.tmp / "server.log").read_text(errors="replace")
        lines = text.splitlines()
        errors = [line for line in lines if line.startswith("ERROR") or " ERROR " in line]
        return {
            "error_lines": len(errors),
            "tracebacks": text.count("Traceback (most recent call last)"),
            "first_errors": errors[:5],
        }

    def stop_server(self) -> None:
        stop_process(self.proc, timeout=20)
        if self._log is not None:
            self._log.close()
            self._log = None

    def cleanup(self, failed: bool) -> None:
        """Stop the server; drop the database unless --keep or --reuse; keep the log on failure."""
        self.stop_server()
        if self.args.keep or self.args.reuse:
            # A query the stopped server left running (PostgreSQL notices the gone client late).
            engine = self._admin()
            try:
                with engine.connect() as conn:
                    conn.execute(
                        sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :n AND pid <> pg_backend_pid()"
                        ),
                        {"n": self.args.db_name},
                    )
            finally:
                engine.dispose()
            log(f"kept database {self.args.db_name}")
        else:
            self._drop()
        if self.args.keep or failed:
            log(f"kept {self.tmp} (server log)")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# -- the imported rows -----------------------------------------------------------------------------


def markers(n: int, rnd: random.Random) -> list[str]:
    """n distinct markers of four CJK characters (U+4E00-U+9FA5)."""
    out: dict[str, None] = {}
    while len(out) < n:
        out["".join(chr(rnd.randint(0x4E00, 0x9FA5)) for _ in range(4))] = None
    return list(out)


def import_rows(n: int, tag: str, marks: list[str], rnd: random.Random) -> list[dict]:
    cities = ["济南市", "青岛市", "淄博市", "烟台市", "潍坊市", "济宁市", "威海市", "临沂市"]
    extra = ["精密轴承", "液压阀块", "陶瓷结构件", "数控刀具", "铝合金压铸件", "传感器模组"]
    rows = []
    for i, mark in enumerate(marks[:n]):
        body = f"{IMPORT_USCC_PREFIX}{tag}{i:06d}"
        rows.append(
            {
                "name": f"负载测试{mark}科技有限公司",
                "uscc": body + check_character(body),
                "city": rnd.choice(cities),
                "tier": "专精特新中小企业",
                "products": [f"{mark}型精密部件", rnd.choice(extra)],
                "processes": ["五轴数控加工"],
                "certifications": ["ISO 9001"],
                "description": f"专业生产{mark}系列产品，导入编号{tag}-{i}。",
            }
        )
    return rows


# -- the load --------------------------------------------------------------------------------------


class Recorder:
    """Samples (start offset s, endpoint, ms, outcome) from every thread."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.samples: list[tuple[float, str, float, str]] = []
        self.error_examples: list[dict] = []
        self._lock = threading.Lock()

    def timed(self, client: httpx.Client, endpoint: str, method: str, url: str, **kw):
        start = time.perf_counter()
        response = None
        try:
            response = client.request(method, url, **kw)
            outcome = str(response.status_code)
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        ms = (time.perf_counter() - start) * 1000
        with self._lock:
            self.samples.append((start - self.t0, endpoint, ms, outcome))
            if not outcome.startswith("2") and len(self.error_examples) < 10:
                self.error_examples.append(
                    {
                        "endpoint": endpoint,
                        "url": url,
                        "at_s": round(start - self.t0, 2),
                        "outcome": outcome,
                        "body": response.text[:300] if response is not None else None,
                    }
                )
        return response if outcome.startswith("2") else None


def ranking_client(k, args, base_url, rec, stop, demand_ids, sme_ids) -> None:
    rnd = random.Random(args.seed * 1000 + k)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=args.timeout) as client:
        while not stop.is_set():
            if sme_ids and rnd.random() < args.sme_share:
                url = f"{API}/smes/{rnd.choice(sme_ids)}/matches?limit={args.limit}"
                rec.timed(client, "sme_matches", "GET", url)
            else:
                url = f"{API}/demands/{rnd.choice(demand_ids)}/matches?limit={args.limit}"
                rec.timed(client, "demand_matches", "GET", url)
            if args.think_ms:
                stop.wait(rnd.uniform(0, 2 * args.think_ms) / 1000)


class Importer(threading.Thread):
    def __init__(self, args, base_url, rec, rows, start_at: float) -> None:
        super().__init__(name="importer", daemon=True)
        self.args, self.base_url, self.rec, self.rows = args, base_url, rec, rows
        self.start_at = start_at
        self.started: float | None = None
        self.finished: float | None = None
        self.chunks: list[dict] = []
        self.row_done: list[float | None] = [None] * len(rows)
        self.ok = True

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        time.sleep(max(0.0, self.start_at - time.perf_counter()))
        self.started = time.perf_counter()
        log(
            f"import: {len(self.rows)} rows, {self.args.import_chunk} a request"
            f" (via {self.args.import_via})"
        )
        with httpx.Client(
            base_url=self.base_url, headers=headers, timeout=self.args.import_timeout
        ) as client:
            for at in range(0, len(self.rows), self.args.import_chunk):
                chunk = self.rows[at : at + self.args.import_chunk]
                t = time.perf_counter()
                if self.args.import_via == "job":
                    r = self._job(client, chunk)
                else:
                    r = self.rec.timed(client, "smes_bulk", "POST", f"{API}/smes/bulk", json=chunk)
                done = time.perf_counter()
                self.chunks.append(
                    {"rows": len(chunk), "s": round(done - t, 2), "ok": r is not None}
                )
                if r is None:
                    self.ok = False
                    break
                for j in range(at, at + len(chunk)):
                    self.row_done[j] = done
        self.finished = time.perf_counter()
        log(f"import done in {self.finished - self.started:.1f} s")

    def _job(self, client: httpx.Client, chunk: list[dict]):
        """Queue the rows as an import job and poll it until it is done (None if it failed)."""
        r = self.rec.timed(
            client, "import_job_submit", "POST", f"{API}/import/jobs/smes/rows", json=chunk
        )
        if r is None:
            return None
        url = r.headers["Location"]
        while True:
            time.sleep(0.5)
            r = self.rec.timed(client, "import_job_status", "GET", url)
            if r is None or r.json()["status"] == "failed":
                return None
            if r.json()["status"] == "done":
                return r


class Probe(threading.Thread):
    """Asks, until each probe row ranks first, for SMEs matching the row's marker."""

    def __init__(self, kind, args, base_url, rec, importer, probes, deadline_after_import):
        super().__init__(name=f"probe-{kind}", daemon=True)
        self.kind, self.args, self.base_url, self.rec = kind, args, base_url, rec
        self.importer, self.probes = importer, probes  # probes: [(row index, marker, need id)]
        self.deadline_after_import = deadline_after_import
        self.found: dict[int, float] = {}  # answer of the first probe that ranked it first
        self.asked: dict[int, float] = {}  # when that probe was sent
        self.last: dict[str, list] = {}  # the last top 3 answered per marker
        self.stop = threading.Event()

    def _top_name(self, client, mark, demand_id) -> str | None:
        if self.kind == "need":
            r = self.rec.timed(
                client, "probe_demand_matches", "GET", f"{API}/demands/{demand_id}/matches?limit=5"
            )
        else:
            body = {"text": f"{mark}型精密部件", "keywords": [mark], "limit": 5}
            r = self.rec.timed(client, "probe_free_text_match", "POST", f"{API}/match", json=body)
        if r is None:
            return None
        items = r.json().get("items", [])
        self.last[mark] = [
            {"name": i["name"], "score": i["score"], "components": i["components"]}
            for i in items[:3]
        ]
        return items[0]["name"] if items else None

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=60) as client:
            while self.importer.started is None and not self.stop.is_set():
                time.sleep(0.05)
            while not self.stop.is_set() and len(self.found) < len(self.probes):
                if (
                    self.importer.finished is not None
                    and time.perf_counter() > self.importer.finished + self.deadline_after_import
                ):
                    break
                for row, mark, demand_id in self.probes:
                    if row in self.found:
                        continue
                    asked = time.perf_counter()
                    top = self._top_name(client, mark, demand_id)
                    if top is not None and mark in top:
                        self.found[row] = time.perf_counter()
                        self.asked[row] = asked
                time.sleep(self.args.probe_every_s)

    def report(self) -> dict:
        imp = self.importer
        rows = []
        for row, mark, _ in self.probes:
            at = self.found.get(row)
            done = imp.row_done[row]
            rows.append(
                {
                    "row": row,
                    "marker": mark,
                    "ranked_first_s_from_import_start": round(at - imp.started, 2)
                    if at is not None and imp.started is not None
                    else None,
                    "ranked_first_s_after_its_request": round(at - done, 2)
                    if at is not None and done is not None
                    else None,
                    # The probe that found it was sent this long after the import started.
                    "found_by_probe_sent_s": round(self.asked[row] - imp.started, 2)
                    if row in self.asked and imp.started is not None
                    else None,
                    **({} if at is not None else {"last_top3": self.last.get(mark)}),
                }
            )
        found = [r["ranked_first_s_from_import_start"] for r in rows]
        return {
            "found": sum(v is not None for v in found),
            "of": len(rows),
            "all_ranked_first_s_from_import_start": max(found)
            if found and all(v is not None for v in found)
            else None,
            "rows": rows,
        }


class Monitor(threading.Thread):
    """Index status and server memory every few seconds."""

    def __init__(self, args, base_url, rec, pid) -> None:
        super().__init__(name="monitor", daemon=True)
        self.args, self.base_url, self.rec, self.pid = args, base_url, rec, pid
        self.points: list[dict] = []
        self.stop = threading.Event()

    def sample(self, client) -> dict | None:
        r = self.rec.timed(client, "index_status", "GET", f"{API}/index/status")
        if r is None:
            return None
        body = r.json()
        point = {
            "t_s": round(time.perf_counter() - self.rec.t0, 1),
            "pending": body.get("pending_encodings"),
            "profiles": body.get("profiles"),
            "profiles_with_vectors": body.get("profiles_with_vectors"),
            "encoded_by_server": body.get("encoded_by_this_process"),
            **(proc_memory(self.pid) or {}),
        }
        self.points.append(point)
        return point

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=60) as client:
            while not self.stop.wait(self.args.status_every_s):
                self.sample(client)


def encode_rate(points: list[dict], t_from: float, t_to: float) -> float | None:
    """Texts (profiles) encoded per second by the server between two offsets (its counter)."""
    pts = [
        p
        for p in points
        if t_from <= p["t_s"] <= t_to + 1 and p.get("encoded_by_server") is not None
    ]
    if len(pts) < 2 or pts[-1]["t_s"] <= pts[0]["t_s"]:
        return None
    done = pts[-1]["encoded_by_server"] - pts[0]["encoded_by_server"]
    return round(done / (pts[-1]["t_s"] - pts[0]["t_s"]), 2)


def profile_summary(path: Path, top: int = 25) -> dict:
    """Shares of py-spy samples (active threads of the server) by function, during the load."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    share = {
        kind: {f: round(n / total, 3) for f, n in counter.most_common(top)}
        for kind, counter in (("inclusive", inclusive), ("self", own))
    }
    return {"samples": total, "file": str(path), **share}


def endpoint_stats(samples, t_from: float, t_to: float) -> dict:
    by: dict[str, list[float]] = {}
    for t, endpoint, ms, outcome in samples:
        if t_from <= t < t_to and outcome.startswith("2"):
            by.setdefault(endpoint, []).append(ms)
    seconds = max(t_to - t_from, 1e-9)
    return {ep: stats(v, seconds) for ep, v in sorted(by.items())}


def run_load(args, setup: Setup, info: dict) -> dict:
    base_url = setup.base_url
    # Client k talks to server k mod N (with --processes: a round-robin balancer's spread).
    urls = setup.base_urls or [base_url]
    pid = setup.proc.pid
    headers = {"Authorization": f"Bearer {TOKEN}"}
    demand_ids = setup.ids(
        "SELECT id FROM demands WHERE deleted_at IS NULL AND status = 'published' ORDER BY id"
    )
    sme_ids = setup.ids("SELECT id FROM sme_profiles WHERE deleted_at IS NULL ORDER BY id")
    if not demand_ids:
        raise RuntimeError("no published needs: seed with --needs > 0")
    rnd = random.Random(args.seed)
    # A new tag each run: with --reuse, earlier runs' (soft-deleted) firms keep their codes.
    tag = "".join(random.SystemRandom().choice(TAG_LETTERS) for _ in range(3))
    marks = markers(args.import_rows, rnd)
    rows = import_rows(args.import_rows, tag, marks, rnd)
    probe_rows = sorted(
        set(np.linspace(0, len(rows) - 1, min(args.probes, len(rows))).round().astype(int))
    )

    # Long timeouts before the load: right after the links land, the server re-places every
    # profile under the matcher's lock (minutes at 10^5).
    with httpx.Client(base_url=base_url, headers=headers, timeout=args.startup_timeout) as client:
        status_start = client.get(f"{API}/index/status").json()
        log(f"index status after start-up: {status_start}")
        # A server that finds no link vectors encodes the taxonomy's links first (e5, a minute
        # or so): wait for them, so the load meets a server in its steady state.
        t_links = time.perf_counter()
        while not status_start.get("links_encoded", True):
            if time.perf_counter() - t_links > args.links_timeout_s:
                raise RuntimeError(f"links not encoded within {args.links_timeout_s} s")
            time.sleep(2)
            status_start = client.get(f"{API}/index/status").json()
        links_wait_s = round(time.perf_counter() - t_links, 1)
        if links_wait_s > 1:
            log(f"waited {links_wait_s} s for the server to encode the taxonomy links")
        t_first = time.perf_counter()
        client.get(f"{API}/demands/{demand_ids[0]}/matches?limit={args.limit}").raise_for_status()
        first_ranking_s = round(time.perf_counter() - t_first, 2)
        log(f"first ranking after start-up: {first_ranking_s} s")
        leader = setup.ids("SELECT id FROM chain_leaders ORDER BY id LIMIT 1")
        if not leader:
            r = client.post(f"{API}/leaders", json={"name": "负载测试链主集团", "city": "济南市"})
            r.raise_for_status()
            leader = [r.json()["id"]]
        probes = []
        for row in probe_rows:
            mark = marks[row]
            r = client.post(
                f"{API}/demands",
                json={
                    "leader_id": leader[0],
                    "title": f"{mark}型精密部件",
                    "keywords": [mark],
                    "demand_type": "supply",
                    "status": "draft",
                    "description": PROBE_DESCRIPTION,
                },
            )
            r.raise_for_status()
            probes.append((int(row), mark, r.json()["id"]))
        log(f"{len(probes)} probe needs posted (drafts: the ranking clients do not pick them)")
        log(f"warm-up: {args.warmup_requests} requests")
        for n in range(args.warmup_requests):
            url = urls[n % len(urls)]
            client.get(
                f"{url}{API}/demands/{demand_ids[n % len(demand_ids)]}/matches?limit={args.limit}"
            )
            client.get(f"{url}{API}/smes/{sme_ids[n % len(sme_ids)]}/matches?limit={args.limit}")
    memory_before = proc_memory(pid)

    t0 = time.perf_counter()
    rec = Recorder(t0)
    stop = threading.Event()
    clients = [
        threading.Thread(
            target=ranking_client,
            args=(k, args, urls[k % len(urls)], rec, stop, demand_ids, sme_ids),
            name=f"client-{k}",
            daemon=True,
        )
        for k in range(args.clients)
    ]
    importer = Importer(args, base_url, rec, rows, t0 + args.import_after_s)
    # The probes ask the last server: with --processes, not the one that takes the import.
    probe_demand = Probe("need", args, urls[-1], rec, importer, probes, args.probe_timeout_s)
    probe_text = Probe("text", args, urls[-1], rec, importer, probes, args.probe_timeout_s)
    monitor = Monitor(args, base_url, rec, pid)
    spy = None
    if args.py_spy:
        spy_out = setup.tmp / "server-profile.txt"
        spy = subprocess.Popen(
            [
                *(args.py_spy, "record", "--pid", str(pid), "--format", "raw"),
                *("--nonblocking", "--rate", "50", "--output", str(spy_out)),
                # The workers (uvicorn --workers, --processes) are the parent's children.
                *(
                    ("--subprocesses",)
                    if args.workers > 1 or args.processes > 1 or args.encode_worker
                    else ()
                ),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    pg0 = setup.backend_cpu_s()
    cpu0 = (machine_busy_s(), proc_cpu_s(pid), sum(os.times()[:2]), time.monotonic())
    log(f"load: {args.clients} clients for at least {args.duration_s} s")
    for t in [*clients, importer, probe_demand, probe_text, monitor]:
        t.start()
    spread = None
    while True:
        time.sleep(0.5)
        elapsed = time.perf_counter() - t0
        if spread is None and elapsed >= 5:
            # How the kernel spread the keep-alive connections over the processes.
            spread = connections(pid, setup.ports)
        if elapsed < args.duration_s or importer.is_alive():
            continue
        if probe_demand.is_alive() or probe_text.is_alive():
            continue
        break
    stop.set()
    for t in clients:
        t.join()
    t_end = time.perf_counter() - t0
    cpu1 = (machine_busy_s(), proc_cpu_s(pid), sum(os.times()[:2]), time.monotonic())
    pg1 = setup.backend_cpu_s()
    memory_after_load = proc_memory(pid)
    profile = None
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=60)
            profile = profile_summary(spy_out)
        except (subprocess.TimeoutExpired, OSError, ValueError) as exc:
            spy.kill()
            profile = {"error": repr(exc)}
    log(f"load done after {t_end:.1f} s")

    imp_start = (importer.started or t0) - t0
    imp_end = (importer.finished or time.perf_counter()) - t0
    wait_encoded_s = None
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
        point = monitor.sample(client)
        if args.wait_encoded:
            log("waiting until pending_encodings is 0")
            deadline = time.monotonic() + args.encode_timeout_s
            while point is not None and point["pending"] and time.monotonic() < deadline:
                time.sleep(args.status_every_s)
                point = monitor.sample(client)
                log(f"pending {point and point['pending']}")
            if point is not None and point["pending"] == 0:
                wait_encoded_s = round(point["t_s"] - imp_end, 1)
        monitor.stop.set()
        monitor.join()
        status_end = client.get(f"{API}/index/status").json()
    probe_demand.stop.set()
    probe_text.stop.set()

    errors = Counter(
        f"{endpoint}:{outcome}"
        for _, endpoint, _, outcome in rec.samples
        if not outcome.startswith("2")
    )
    overall = endpoint_stats(rec.samples, 0.0, t_end)
    phases = {
        "before_import": endpoint_stats(rec.samples, 0.0, imp_start),
        "during_import": endpoint_stats(rec.samples, imp_start, imp_end),
        "after_import": endpoint_stats(rec.samples, imp_end, t_end),
    }
    wall = cpu1[3] - cpu0[3]
    server_cores = (cpu1[1] - cpu0[1]) / wall if cpu0[1] is not None and cpu1[1] else None
    own_cores = (cpu1[2] - cpu0[2]) / wall
    busy = (cpu1[0] - cpu0[0]) / wall
    # Backends alive at the end (a new one counts from its start); closed ones are missed.
    pg_cores = sum(cpu - pg0.get(p, 0.0) for p, cpu in pg1.items()) / wall
    other = busy - own_cores - (server_cores or 0) - pg_cores
    pending_end = status_end.get("pending_encodings")
    checks = {
        "errors": {"value": sum(errors.values()), "met": not errors},
        **{
            f"{ep}_p99_ms": {
                "value": overall.get(ep, {}).get("p99_ms"),
                "met": overall.get(ep, {}).get("p99_ms", float("inf")) <= TARGET_P99_MS,
            }
            for ep in RANKING
            if ep in overall
        },
    }
    return {
        "clients": args.clients,
        "sme_share": args.sme_share,
        "limit": args.limit,
        "load_s": round(t_end, 1),
        "encode_worker": args.encode_worker,
        "import_via": args.import_via,
        "import_worker": args.import_worker,
        "servers": {
            "workers": args.workers,
            "processes": args.processes,
            "encode_worker": args.encode_worker,
        },
        "connections_per_process": spread,
        "endpoints": overall,
        "phases": phases,
        "phase_bounds_s": {"import_start": round(imp_start, 1), "import_end": round(imp_end, 1)},
        "errors": dict(errors),
        "error_examples": rec.error_examples,
        "import": {
            "rows": len(rows),
            "chunk": args.import_chunk,
            "ok": importer.ok,
            "wall_s": round(imp_end - imp_start, 1),
            "rows_per_s": round(len(rows) / (imp_end - imp_start), 1)
            if imp_end > imp_start
            else None,
            "requests": importer.chunks,
        },
        "ranked_first_lexically": probe_demand.report(),
        "ranked_first_free_text": probe_text.report(),
        "encoding": {
            "pending_at_start": status_start.get("pending_encodings"),
            "pending_at_end": pending_end,
            # From the start of the import (chunks are queued as they commit) to the end of the
            # load, then (with --wait-encoded) with the ranking clients stopped.
            "encode_rate_per_s_under_load": encode_rate(monitor.points, imp_start, t_end),
            "encode_rate_per_s_after_load": encode_rate(monitor.points, t_end, float("inf"))
            if args.wait_encoded
            else None,
            "encoded_by_server": status_end.get("encoded_by_this_process"),
            "all_encoded_s_after_import": wait_encoded_s,
            "waited": args.wait_encoded,
            "timeline": monitor.points,
        },
        "links_encoded_wait_s": links_wait_s,
        # The first ranking after the links are in (it waits for any re-placement of profiles).
        "first_ranking_s": first_ranking_s,
        "index_status_start": status_start,
        "index_status_end": status_end,
        "server_memory": {
            "after_startup": memory_before,
            "after_load": memory_after_load,
            "at_end": proc_memory(pid),
        },
        "cpu_cores_during_load": {
            "server": round(server_cores, 2) if server_cores is not None else None,
            "bench_clients": round(own_cores, 2),
            "postgres_backends": round(pg_cores, 2),
            "other_processes": round(max(other, 0.0), 2),
            # Above ~0.3 of 2 cores, other work on the machine distorts the figures.
            "disturbed": other > 0.3,
        },
        "server_profile": profile,
        "targets": {"errors": 0, "ranking_p99_ms_max": TARGET_P99_MS},
        "target_checks": checks,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--needs", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="servers on ports of their own, client k on server k mod N (a balancer's spread)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (each its own index)"
    )
    parser.add_argument("--duration-s", type=float, default=120.0, help="least load time")
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--import-chunk", type=int, default=10_000, help="rows a bulk request")
    parser.add_argument("--import-after-s", type=float, default=10.0)
    parser.add_argument("--import-timeout", type=float, default=900.0)
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="mean pause of a client between requests (0: closed loop, back to back)",
    )
    parser.add_argument("--sme-share", type=float, default=0.2, help="share of SME -> needs")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--probes", type=int, default=5, help="imported rows probed for ranking")
    parser.add_argument("--probe-every-s", type=float, default=0.25)
    parser.add_argument("--probe-timeout-s", type=float, default=120.0)
    parser.add_argument("--status-every-s", type=float, default=5.0)
    parser.add_argument("--wait-encoded", action="store_true", help="until pending is 0")
    parser.add_argument("--encode-timeout-s", type=float, default=7200.0)
    parser.add_argument("--links-timeout-s", type=float, default=900.0)
    parser.add_argument("--warmup-requests", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=30.0, help="per ranking request (s)")
    parser.add_argument("--startup-timeout", type=float, default=900.0)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/")
    parser.add_argument("--db-name", default="chainmatch_load")
    parser.add_argument("--seeder", default=str(ROOT / "bench" / "seed_scale.py"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--access-log", action="store_true", help="keep uvicorn's access log")
    parser.add_argument(
        "--py-spy",
        nargs="?",
        const="py-spy",
        help="record the server with py-spy during the load (path to the binary)",
    )
    parser.add_argument(
        "--encode-worker",
        action="store_true",
        help="encode in one `chainmatch encode-worker` process, not in the servers' threads",
    )
    parser.add_argument(
        "--import-via",
        choices=("bulk", "job"),
        default="bulk",
        help="bulk: POST /smes/bulk (the request does the work); job: queue an import job",
    )
    parser.add_argument(
        "--import-worker",
        action="store_true",
        help="run import jobs in one `chainmatch import-worker` process, not in the servers",
    )
    parser.add_argument("--worker-nice", type=int, default=10, help="nice of the encode worker")
    parser.add_argument("--reuse", action="store_true", help="keep an existing database")
    parser.add_argument("--keep", action="store_true", help="keep the database and server log")
    args = parser.parse_args()
    if not 1 <= args.import_chunk <= 10_000:
        return fail("--import-chunk must be 1..10000 (the bulk endpoint's limit)")

    t0 = time.perf_counter()
    setup = Setup(args)
    failed = False
    try:
        try:
            info = setup.prepare()
            setup.start_server()
        except (subprocess.CalledProcessError, RuntimeError, OSError, sa.exc.SQLAlchemyError) as e:
            failed = True
            return fail(f"set-up failed: {e}", setup=setup.timings, server_log=setup.log_tail())
        try:
            out = run_load(args, setup, info)
        except (httpx.HTTPError, RuntimeError, KeyError, ValueError) as exc:
            failed = True
            return fail(f"load failed: {exc!r}", setup=setup.timings, server_log=setup.log_tail())
        setup.stop_server()
        problems = setup.log_problems()
    finally:
        setup.cleanup(failed)

    result = {
        "bench": "load",
        **info,
        "setup": setup.timings,
        **out,
        "server_log": problems,
        "cpus": os.cpu_count(),
        "elapsed_s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
