"""Plain reads on the embedded SQLite default while another client keeps signing in.

What it measures, against its own server (a real ``uvicorn app.main:app`` on a temp SQLite file,
migrated, taxonomy loaded, the hashing encoder; 20 SMEs and two accounts created over the API):

- baseline: one client times ``GET /api/v1/smes/{id}`` (a signed-in organizer's session token,
  ids round-robin) alone: p50/p90/p99/max ms;
- under a login stream: the same reads while a second client loops ``POST /api/v1/auth/login``
  with a correct password (Argon2 verify, a new session token each), in the same run;
- the ratios of the loaded p50 and p99 to the baseline (goal: at most 2x), error counts of both
  clients (non-200 answers, 500s, transport errors by type), and the logins per second;
- a CPU-only control: the same reads while another process only verifies Argon2 hashes (no
  request, no database), which tells the cost of sharing the cores apart from any lock wait;
  the loaded p50/p99 are also given relative to it (`*_vs_cpu_control`): near 1 when the
  logins cost the reads only CPU, far above when the reads wait for a lock.

Before reads stopped taking the write lock, each login held it through its Argon2 verification
and reads waited for it (seconds, with 500 "database is locked" past busy_timeout).

Progress goes to stderr; one JSON object to stdout at the end.

    .venv/bin/python bench/sqlite_reads.py [--reads 400] [--keep]
"""

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from _util import stop_process
from api import API, BIN, ROOT, free_port, stats, wait_healthy

from matching.uscc import check_character

ADMIN_TOKEN = "bench-admin-token"
PASSWORD = "bench-reads-password"
TARGET_RATIO = 2.0


def log(msg: str) -> None:
    print(f"[sqlite_reads] {msg}", file=sys.stderr, flush=True)


def sme(i: int) -> dict:
    """A valid SME profile; credit codes get their check character from the project."""
    body = f"91370200{i:09d}"
    return {
        "name": f"青岛基准读取测试机械有限公司{i}",
        "uscc": body + check_character(body),
        "city": "青岛市",
        "tier": "专精特新中小企业",
        "products": ["转向架构架焊接件"],
        "processes": ["机器人焊接"],
        "certifications": ["CRCC"],
        "chains": ["equipment"],
        "description": "轨道交通焊接结构件。",
    }


class Server:
    """A temp SQLite database and a uvicorn process serving it."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="chainmatch-sqlite-reads-"))
        self.env = {
            **os.environ,
            "CHAINMATCH_DATABASE_URL": f"sqlite:///{self.tmp / 'bench.db'}",
            "CHAINMATCH_ENCODER": "hashing",
            "CHAINMATCH_ADMIN_TOKEN": ADMIN_TOKEN,
            "CHAINMATCH_DEMO": "0",
        }
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> None:
        for cmd in (
            [str(BIN / "alembic"), "upgrade", "head"],
            [str(BIN / "chainmatch"), "seed-taxonomy"],
        ):
            subprocess.run(cmd, cwd=ROOT, env=self.env, check=True, stdout=sys.stderr)
        self._log = open(self.tmp / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(BIN / "uvicorn"), "app.main:app", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        if not wait_healthy(self.base_url, 120, self.proc):
            raise RuntimeError((self.tmp / "server.log").read_text(errors="replace")[-2000:])

    def stop(self, keep: bool) -> None:
        stop_process(self.proc, timeout=15)
        if self._log is not None:
            self._log.close()
        if keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def seed(base_url: str) -> tuple[list[int], str]:
    """20 SMEs, a reader account (signed in) and a login account; the SME ids and the token."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=base_url, headers=admin, timeout=30) as c:
        r = c.post(f"{API}/smes/bulk", json=[sme(i) for i in range(1, 21)])
        r.raise_for_status()
        ids = [int(i) for i in r.json()["ids"]]
        for name in ("bench-reader", "bench-login"):
            account = {"username": name, "password": PASSWORD, "role": "organizer"}
            c.post(f"{API}/users", json=account).raise_for_status()
        login = {"username": "bench-reader", "password": PASSWORD}
        token = c.post(f"{API}/auth/login", json=login).json()["access_token"]
    return ids, token


def time_reads(client: httpx.Client, ids: list[int], n: int) -> tuple[list[float], dict]:
    """`n` timed GETs of one profile each, round-robin; latencies (ms) and error counts."""
    samples: list[float] = []
    errors: dict = {"non_200": 0, "status_500": 0, "transport": {}}
    for k in range(n):
        t0 = time.perf_counter_ns()
        try:
            r = client.get(f"{API}/smes/{ids[k % len(ids)]}")
            r.read()
        except httpx.HTTPError as exc:
            kind = type(exc).__name__
            errors["transport"][kind] = errors["transport"].get(kind, 0) + 1
            continue
        samples.append((time.perf_counter_ns() - t0) / 1e6)
        if r.status_code != 200:
            errors["non_200"] += 1
            # The server logs the cause; on SQLite it was "database is locked".
            errors["status_500"] += r.status_code == 500
    return samples, errors


def errors_total(errors: dict) -> int:
    return errors["non_200"] + sum(errors["transport"].values())


def burn_argon2(stop) -> None:
    """Verify Argon2 hashes (the login's cost) until told to stop: CPU load, no requests."""
    from argon2 import PasswordHasher

    hasher = PasswordHasher()
    stored = hasher.hash(PASSWORD)
    while not stop.is_set():
        hasher.verify(stored, PASSWORD)


def login_stream(base_url: str, stop: threading.Event, out: dict) -> None:
    """Sign in over and over until told to stop; counts and errors into `out`."""
    body = {"username": "bench-login", "password": PASSWORD}
    ok = non_ok = transport = 0
    statuses: dict[str, int] = {}
    t0 = time.perf_counter()
    with httpx.Client(base_url=base_url, timeout=30) as c:
        while not stop.is_set():
            try:
                r = c.post(f"{API}/auth/login", json=body)
            except httpx.HTTPError:
                transport += 1
                continue
            if r.status_code == 200:
                ok += 1
            else:
                non_ok += 1
                statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
    seconds = time.perf_counter() - t0
    out.update(
        logins_ok=ok,
        errors={"non_200": non_ok, "transport": transport, "statuses": statuses},
        logins_per_s=round(ok / seconds, 1) if seconds else None,
    )


def ratio(loaded: dict, base: dict, key: str) -> float | None:
    return round(loaded[key] / base[key], 2) if loaded.get("n") and base.get("n") else None


def run(base_url: str, args: argparse.Namespace) -> dict:
    ids, token = seed(base_url)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=args.timeout) as reader:
        time_reads(reader, ids, 20)  # warm-up
        log(f"baseline: {args.reads} reads alone")
        base_ms, base_errors = time_reads(reader, ids, args.reads)

        log(f"under load: {args.reads} reads while another client signs in")
        stop, login_out = threading.Event(), {}
        logins = threading.Thread(target=login_stream, args=(base_url, stop, login_out))
        logins.start()
        time.sleep(0.5)  # the stream is under way before the first timed read
        try:
            loaded_ms, loaded_errors = time_reads(reader, ids, args.reads)
        finally:
            stop.set()
            logins.join(60)

        log(f"CPU-only control: {args.reads} reads while another process verifies Argon2")
        halt = multiprocessing.Event()
        burner = multiprocessing.Process(target=burn_argon2, args=(halt,))
        burner.start()
        time.sleep(0.5)
        try:
            cpu_ms, cpu_errors = time_reads(reader, ids, args.reads)
        finally:
            halt.set()
            burner.join(30)
    base, loaded, cpu = stats(base_ms), stats(loaded_ms), stats(cpu_ms)
    p50_ratio, p99_ratio = ratio(loaded, base, "p50_ms"), ratio(loaded, base, "p99_ms")
    return {
        "read": f"GET {API}/smes/{{id}}",
        "reads_each_phase": args.reads,
        "baseline": {**base, "errors": base_errors},
        "under_login_stream": {**loaded, "errors": loaded_errors},
        "p50_ratio": p50_ratio,
        "p99_ratio": p99_ratio,
        "p50_vs_cpu_control": ratio(loaded, cpu, "p50_ms"),
        "p99_vs_cpu_control": ratio(loaded, cpu, "p99_ms"),
        "login_stream": login_out,
        "cpu_only_control": {
            **cpu,
            "errors": cpu_errors,
            "p50_ratio": ratio(cpu, base, "p50_ms"),
            "p99_ratio": ratio(cpu, base, "p99_ms"),
        },
        "target_ratio_max": TARGET_RATIO,
        "target_met": p50_ratio is not None
        and p99_ratio is not None
        and max(p50_ratio, p99_ratio) <= TARGET_RATIO
        and errors_total(loaded_errors) == 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=400, help="timed reads per phase")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout (s)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and server log")
    args = parser.parse_args()

    t0 = time.perf_counter()
    server = Server()
    try:
        log(f"starting a server on {server.base_url} ({server.tmp})")
        try:
            server.start()
        except (subprocess.CalledProcessError, RuntimeError, OSError) as exc:
            print(json.dumps({"bench": "sqlite_reads", "error": f"start failed: {exc}"}))
            return 2
        try:
            out = run(server.base_url, args)
        except (httpx.HTTPError, RuntimeError, KeyError, ValueError) as exc:
            print(json.dumps({"bench": "sqlite_reads", "error": f"benchmark failed: {exc!r}"}))
            return 2
    finally:
        server.stop(keep=args.keep)
    result = {
        "bench": "sqlite_reads",
        **out,
        "cpus": os.cpu_count(),
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "elapsed_s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
