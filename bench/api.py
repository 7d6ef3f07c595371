"""End-to-end latency of the match endpoints of a running service, against /health.

What it measures, over HTTP with one sequential ``httpx.Client`` (keep-alive):

- ``GET /api/v1/demands/{id}/matches?limit=20``: up to 50 demand ids (spread evenly over every
  page of ``GET /api/v1/demands?limit=200``), one warm-up request each, then 400 requests
  round-robin: p50/p90/p99/max ms;
- ``GET /api/v1/smes/{id}/matches?limit=20``: the same for up to 50 SME ids, 100 requests;
- the plain floor in the same run: ``GET /api/v1/health`` (a route with one trivial query),
  one request after every 4th demand-match request (100 in all);
- ``GET /api/v1/index/status`` before and after: the benchmark writes nothing, so
  ``pending_encodings`` should not move and the index sizes should stay put. Both statuses and
  every field that changed are reported (when the status carries an encoder call counter, such
  as ``encoded_by_this_process``, a change there means a request encoded). The first pass over
  the ids (the warm-up) is reported apart, with its slowest ids.

Targets (demand matches): p50 <= 50 ms, p99 <= 150 ms; printed with the measured values.

By default it runs against an already-running service loaded with the demo data (``make run``)
at --base-url; if that is not reachable it prints ``{"error": ...}`` and exits 2. With --start
it builds its own: a temp dir, ``CHAINMATCH_DATABASE_URL=sqlite:///<tmp>/bench.db``, alembic
upgrade, ``chainmatch seed-taxonomy``, ``chainmatch seed-demo`` (encodes ~1,000 texts with e5:
minutes on 2 cores), then ``uvicorn app.main:app`` on a free port, which it stops at the end.

Progress goes to stderr; one JSON object to stdout at the end.

    .venv/bin/python bench/api.py [--base-url http://127.0.0.1:8000] [--start]
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from _util import stop_process

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
API = "/api/v1"
# A static admin token for the started server (or the one in CHAINMATCH_ADMIN_TOKEN).
BENCH_TOKEN = "bench-admin-token"
TARGET_P50_MS = 50.0
TARGET_P99_MS = 150.0


def log(msg: str) -> None:
    print(f"[api] {msg}", file=sys.stderr, flush=True)


def fail(message: str, **extra) -> int:
    print(json.dumps({"bench": "api", "error": message, **extra}, ensure_ascii=False, indent=2))
    return 2


def stats(samples_ms: list[float]) -> dict:
    if not samples_ms:
        return {"n": 0}
    a = np.asarray(samples_ms)
    return {
        "n": len(samples_ms),
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p90_ms": round(float(np.percentile(a, 90)), 2),
        "p99_ms": round(float(np.percentile(a, 99)), 2),
        "max_ms": round(float(a.max()), 2),
        "mean_ms": round(float(a.mean()), 2),
    }


def first_pass(rows: list[tuple[int, float]]) -> dict:
    """Warm-up figures: the very first request, the spread, and the slowest ids."""
    if not rows:
        return {"n": 0}
    slowest = sorted(rows, key=lambda r: -r[1])[:3]
    return {
        **stats([ms for _, ms in rows]),
        "first_ms": round(rows[0][1], 2),
        "slowest": [{"id": i, "ms": round(ms, 2)} for i, ms in slowest],
    }


def timed_get(client: httpx.Client, url: str) -> tuple[float, httpx.Response]:
    t0 = time.perf_counter_ns()
    response = client.get(url)
    response.read()
    return (time.perf_counter_ns() - t0) / 1e6, response


def all_ids(client: httpx.Client, path: str) -> list[int]:
    """Every id a list endpoint returns, page by page (200 a page)."""
    ids: list[int] = []
    offset = 0
    while True:
        r = client.get(path, params={"limit": 200, "offset": offset})
        r.raise_for_status()
        body = r.json()
        items = body.get("items", [])
        ids.extend(int(item["id"]) for item in items)
        offset += len(items)
        if not items or offset >= int(body.get("total", 0)):
            return ids


def spread(ids: list[int], count: int) -> list[int]:
    """Up to `count` ids evenly spaced over the list."""
    if len(ids) <= count:
        return list(ids)
    picks = np.linspace(0, len(ids) - 1, count).round().astype(int)
    return [ids[i] for i in dict.fromkeys(picks.tolist())]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(base_url: str, timeout_s: float, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            if httpx.get(f"{base_url}{API}/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    return False


class OwnServer:
    """A fresh SQLite database with the demo data and a uvicorn subprocess serving it."""

    def __init__(self, startup_timeout: float) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="chainmatch-bench-"))
        self.env = dict(os.environ)
        self.env["CHAINMATCH_DATABASE_URL"] = f"sqlite:///{self.tmp / 'bench.db'}"
        self.env.setdefault("CHAINMATCH_ADMIN_TOKEN", BENCH_TOKEN)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.startup_timeout = startup_timeout
        self.timings: dict[str, float] = {}
        self._log = None

    def _run(self, label: str, *cmd: str) -> None:
        log(f"--start: {label}")
        t0 = time.perf_counter()
        # Children write to our stderr: stdout stays for the one JSON object.
        subprocess.run(cmd, cwd=ROOT, env=self.env, check=True, stdout=sys.stderr)
        self.timings[f"{label}_s"] = round(time.perf_counter() - t0, 1)

    def start(self) -> None:
        self._run("migrate", str(BIN / "alembic"), "upgrade", "head")
        self._run("seed_taxonomy", str(BIN / "chainmatch"), "seed-taxonomy")
        self._run("seed_demo", str(BIN / "chainmatch"), "seed-demo")
        log(f"--start: uvicorn on port {self.port} (log {self.tmp / 'server.log'})")
        self._log = open(self.tmp / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                str(BIN / "uvicorn"),
                "app.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        if not wait_healthy(self.base_url, self.startup_timeout, self.proc):
            tail = (self.tmp / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"server did not become healthy: {tail}")
        self.timings["server_ready_s"] = round(time.perf_counter() - t0, 1)

    def stop(self, keep: bool = False) -> None:
        stop_process(self.proc, timeout=15)
        if self._log is not None:
            self._log.close()
        if keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def run_bench(base_url: str, args: argparse.Namespace) -> dict:
    out: dict = {"base_url": base_url}
    token = os.environ.get("CHAINMATCH_ADMIN_TOKEN", BENCH_TOKEN)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, timeout=args.timeout, headers=headers) as client:
        status_before = client.get(f"{API}/index/status").json()
        log(f"index status before: {status_before}")

        demand_ids = spread(all_ids(client, f"{API}/demands"), args.demands)
        sme_ids = spread(all_ids(client, f"{API}/smes"), args.smes)
        if not demand_ids:
            raise RuntimeError("the service has no demands: load the demo data (make run)")
        log(f"{len(demand_ids)} demand ids, {len(sme_ids)} SME ids")

        demand_url = f"{API}/demands/{{}}/matches?limit={args.limit}"
        sme_url = f"{API}/smes/{{}}/matches?limit={args.limit}"
        health_url = f"{API}/health"

        warm: dict[str, list[tuple[int, float]]] = {"demand": [], "sme": []}
        for i in demand_ids:
            warm["demand"].append((i, timed_get(client, demand_url.format(i))[0]))
        for i in sme_ids:
            warm["sme"].append((i, timed_get(client, sme_url.format(i))[0]))
        for _ in range(5):
            timed_get(client, health_url)

        errors: dict[str, int] = {"demand": 0, "sme": 0, "health": 0}
        items: dict[str, list[int]] = {"demand": [], "sme": []}
        demand_ms: list[float] = []
        health_ms: list[float] = []
        log(f"{args.requests} demand-match requests (health after every {args.health_every})")
        for n in range(args.requests):
            ms, r = timed_get(client, demand_url.format(demand_ids[n % len(demand_ids)]))
            demand_ms.append(ms)
            if r.status_code != 200:
                errors["demand"] += 1
            else:
                items["demand"].append(len(r.json()["items"]))
            if (n + 1) % args.health_every == 0:
                ms, r = timed_get(client, health_url)
                health_ms.append(ms)
                errors["health"] += r.status_code != 200

        sme_ms: list[float] = []
        if sme_ids:
            log(f"{args.sme_requests} SME-match requests")
            for n in range(args.sme_requests):
                ms, r = timed_get(client, sme_url.format(sme_ids[n % len(sme_ids)]))
                sme_ms.append(ms)
                if r.status_code != 200:
                    errors["sme"] += 1
                else:
                    items["sme"].append(len(r.json()["items"]))

        status_after = client.get(f"{API}/index/status").json()
        log(f"index status after: {status_after}")

    demand = stats(demand_ms)
    health = stats(health_ms)
    out.update(
        {
            "demand_ids": len(demand_ids),
            "sme_ids": len(sme_ids),
            "limit": args.limit,
            "demand_matches": demand,
            "sme_matches": stats(sme_ms),
            "baseline_health": health,
            "warmup_first_pass": {kind: first_pass(rows) for kind, rows in warm.items()},
            "demand_p50_over_health_p50": round(demand["p50_ms"] / health["p50_ms"], 2)
            if health.get("n")
            else None,
            "items_returned": {
                k: {"min": min(v), "max": max(v)} if v else None for k, v in items.items()
            },
            "errors": errors,
            "index_status_before": status_before,
            "index_status_after": status_after,
            "pending_encodings_changed": status_before.get("pending_encodings")
            != status_after.get("pending_encodings"),
            "index_status_changed": status_before != status_after,
            "index_status_diff": {
                k: [status_before.get(k), status_after.get(k)]
                for k in sorted(set(status_before) | set(status_after))
                if status_before.get(k) != status_after.get(k)
            },
            "targets": {"demand_p50_ms_max": TARGET_P50_MS, "demand_p99_ms_max": TARGET_P99_MS},
            "target_checks": {
                "demand_p50_ms": {
                    "value": demand["p50_ms"],
                    "met": demand["p50_ms"] <= TARGET_P50_MS,
                },
                "demand_p99_ms": {
                    "value": demand["p99_ms"],
                    "met": demand["p99_ms"] <= TARGET_P99_MS,
                },
            },
        }
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--start", action="store_true", help="start a fresh demo server")
    parser.add_argument("--keep", action="store_true", help="with --start: keep the temp dir")
    parser.add_argument("--requests", type=int, default=400, help="timed demand-match requests")
    parser.add_argument("--sme-requests", type=int, default=100, help="timed SME-match requests")
    parser.add_argument("--demands", type=int, default=50, help="distinct demand ids")
    parser.add_argument("--smes", type=int, default=50, help="distinct SME ids")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--health-every", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout (s)")
    parser.add_argument("--startup-timeout", type=float, default=120.0)
    args = parser.parse_args()

    t0 = time.perf_counter()
    load_start = os.getloadavg()
    server: OwnServer | None = None
    try:
        if args.start:
            server = OwnServer(args.startup_timeout)
            try:
                server.start()
            except (subprocess.CalledProcessError, RuntimeError, OSError) as exc:
                return fail(f"--start failed: {exc}")
            base_url = server.base_url
        else:
            base_url = args.base_url.rstrip("/")
            try:
                r = httpx.get(f"{base_url}{API}/health", timeout=5)
            except httpx.HTTPError as exc:
                return fail(f"service not reachable at {base_url}: {exc!r}")
            if r.status_code != 200:
                return fail(f"{base_url}{API}/health answered {r.status_code}", body=r.text[:500])
        try:
            out = run_bench(base_url, args)
        except (httpx.HTTPError, RuntimeError, KeyError, ValueError) as exc:
            return fail(f"benchmark failed: {exc!r}", base_url=base_url)
    finally:
        if server is not None:
            server.stop(keep=args.keep)

    result = {
        "bench": "api",
        "mode": "start" if args.start else "existing",
        **out,
        "setup": server.timings if server else None,
        "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "elapsed_s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
