"""The matcher inside the service: index lifecycle, cross-process sync, encoding, use cases.

- Vectors are computed once per text version and stored (table `embeddings`).
- At start-up the in-memory index is rebuilt from stored vectors, without re-encoding.
- Every write appends to `index_changes`; each process polls it (and the writing process applies
  it right after its commit), so several API processes on one PostgreSQL stay in step.
- Single writes are encoded in the request, on the one encoder thread; bulk writes are queued
  and a background worker encodes them in batches, claiming each text version in
  `encode_claims` so that no write is encoded twice across processes.
"""

import gc
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from itertools import pairwise

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.repositories import feedback as feedback_repo
from app.repositories import matching as repo
from app.services import match_docs
from app.services.taxonomy import resolve_version
from matching.documents import profile_passages
from matching.encoders import (
    Encoder,
    SerialEncoder,
    ThreadTuner,
    VectorCache,
    encode_distinct,
    make_encoder,
)
from matching.features import FusionWeights
from matching.matcher import Matcher
from matching.placement import LinkPlacer
from models import Demand, SmeProfile, utcnow

log = logging.getLogger("chainmatch.matching")

# How far back each poll re-reads the change log: covers commit delays and clock skew.
LOOKBACK = timedelta(seconds=120)
# A sync that applied this many entities (a bulk import) settles the heap again (see
# MatchingRuntime.settle).
SETTLE_AFTER = 1000
# Profiles a sync reads and applies at a time, and the pause between two such chunks.
SYNC_CHUNK = 500
SYNC_PAUSE = 0.02


def build_encoder(settings: Settings) -> Encoder:
    """The encoder the settings name."""
    return make_encoder(
        settings.encoder,
        model=settings.encoder_model,
        num_threads=settings.encoder_threads,
        query_prefix=settings.encoder_query_prefix,
        passage_prefix=settings.encoder_passage_prefix,
    )


def _encoding_text(doc) -> str:
    """`match_docs.sme_encoding_text` of a profile whose ProfileDoc is already built."""
    return match_docs.PASSAGE_SEPARATOR.join(profile_passages(doc))


def queue_threads(settings: Settings) -> tuple[int, ...]:
    """Thread counts the encoding queue may use: the setting, or 1 and every core (auto)."""
    if settings.encode_queue_threads > 0:
        return (settings.encode_queue_threads,)
    cores = os.cpu_count() or 1
    return tuple(sorted({1, max(cores // 2, 1), cores}))


class EncodeProgress:
    """What the encoding queue of this process has done: texts, rate and time left.

    The rate is over the last `window` seconds, so it follows a change of the machine's load;
    the time left is the backlog (all processes') over this process's rate.
    """

    def __init__(self, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        self._marks: deque[tuple[float, int]] = deque()
        self.active = False
        self.done = 0
        self.total: int | None = None
        self.pending: int | None = None
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None

    def start(self, pending: int) -> None:
        """A run begins with `pending` texts queued."""
        with self._lock:
            self.active = True
            self.done = 0
            self.total = pending
            self.pending = pending
            self.started_at = utcnow()
            self.finished_at = None
            self._marks.clear()
            self._marks.append((self.clock(), 0))

    def advance(self, texts: int) -> None:
        """`texts` more are encoded and stored."""
        with self._lock:
            self.done += texts
            if self.pending is not None:
                self.pending = max(self.pending - texts, 0)
            if self.total is not None and self.done > self.total:
                self.total = self.done  # written while the run went on
            now = self.clock()
            self._marks.append((now, self.done))
            while len(self._marks) > 2 and self._marks[1][0] < now - self.window:
                self._marks.popleft()

    def finish(self) -> None:
        """The queue is empty (or the run stopped at its limit)."""
        with self._lock:
            self.active = False
            self.finished_at = utcnow()

    def rate(self) -> float | None:
        """Texts per second over the recent window; None before two marks."""
        with self._lock:
            if len(self._marks) < 2:
                return None
            (t0, n0), (t1, n1) = self._marks[0], self._marks[-1]
            if self.active and self.clock() - t1 > self.window:
                return None  # nothing finished for a whole window: no honest rate
            return (n1 - n0) / (t1 - t0) if t1 > t0 and n1 > n0 else None

    def snapshot(self, pending: int | None = None) -> dict:
        """The figures for `GET /index/status` (`pending` from the database, if read)."""
        rate = self.rate()
        left = self.pending if pending is None else pending
        with self._lock:
            return {
                "encoding_active": self.active,
                "encoding_done": self.done,
                "encoding_total": self.total,
                "encoding_rate": round(rate, 3) if rate else None,
                "encoding_eta_seconds": round(left / rate, 1) if rate and left else None,
                "encoding_started_at": self.started_at,
                "encoding_finished_at": self.finished_at,
            }


class ChangeCursor:
    """Which change-log ids a process has applied: a high mark, and the gaps below it.

    A change gets its id when its transaction writes and becomes visible when it commits, so a
    lower id can appear after a higher one (two writers) or never (a rollback). A poll reads
    every id above the mark and, of the gaps the mark has passed, the rows logged within
    LOOKBACK; a gap is given up LOOKBACK after it was seen. So a poll reads only what it has
    not applied: re-reading a time window instead cost each API process a second of CPU every
    few seconds for two minutes after a 10,000-row import (bench/load.py, py-spy).
    """

    def __init__(self) -> None:
        self.high: int | None = None
        self.gaps: list[tuple[int, int, datetime]] = []
        self._found: set[int] = set()

    def ranges(self) -> list[tuple[int, int]]:
        """The id ranges still awaited below the mark."""
        return [(lo, hi) for lo, hi, _ in self.gaps]

    def _in_gap(self, change_id: int) -> bool:
        return any(lo <= change_id <= hi for lo, hi, _ in self.gaps)

    def start(self, ids: Sequence[int], last: int, now: datetime) -> set[int]:
        """The first poll: `ids` logged within LOOKBACK, `last` the highest id committed.

        Ids below the window's first are awaited as a gap, as a transaction that wrote before
        the window may commit after it; returns every id of the window.
        """
        below = min(ids) - 1 if ids else last
        self.high = below
        if below >= 1:
            self.gaps.append((1, below, now))
        return self.advance(ids, now)

    def advance(self, ids: Iterable[int], now: datetime) -> set[int]:
        """Take the ids a poll read; returns those not applied before."""
        ids = sorted(set(ids))
        fresh: set[int] = set()
        prev = self.high
        for change_id in ids:
            if prev is not None and change_id <= prev:
                if change_id not in self._found and self._in_gap(change_id):
                    self._found.add(change_id)
                    fresh.add(change_id)
                continue
            if prev is not None and change_id > prev + 1:
                self.gaps.append((prev + 1, change_id - 1, now))
            fresh.add(change_id)
            prev = change_id
        if prev is not None:
            self.high = prev
        self.gaps = [g for g in self.gaps if g[2] >= now - LOOKBACK]
        self._found = {i for i in self._found if self._in_gap(i)}
        return fresh


class MatchingRuntime:
    """One process's matcher, kept in step with the database."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        encoder: Encoder | None = None,
        read_session_factory: sessionmaker[Session] | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        # Polls and status only read: on a SQLite file their sessions never take the write lock.
        self.read_session_factory = read_session_factory or session_factory
        self.encoder = SerialEncoder(encoder or build_encoder(settings), nice=settings.encoder_nice)
        self.weights = FusionWeights.from_dict(settings.match_weights)
        # The applied weight set (`ranking_weights`) in use, if any; read by `load`.
        self.weights_id: int | None = None
        self.matcher = Matcher(
            self.encoder.dim, weights=self.weights, candidates=settings.match_candidates
        )
        self.instance = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.cursor = ChangeCursor()
        self._last_poll = None
        self._sync_lock = threading.Lock()
        self._encode_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake_encoder = threading.Event()
        self._threads: list[threading.Thread] = []
        self._links_encoded = False
        # Texts this process has encoded (profiles and needs), for the status and the tests.
        self.encoded = 0
        self.progress = EncodeProgress()
        # The queue picks its thread count per batch from measured throughput (bench/encode.py:
        # two threads win on idle cores and lose 3x when another process holds one).
        self.tuner = ThreadTuner(queue_threads(settings))
        # Product names repeat across profiles: within a bulk load each is encoded once.
        self.passage_cache = VectorCache(settings.encode_cache_items)
        # Seconds per phase of the last `load` (bench/startup.py).
        self.load_timings: dict[str, float] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def load(self) -> None:
        """Build the in-memory index from stored rows and vectors (no re-encoding)."""
        timings: dict[str, float] = {}
        clock = time.perf_counter

        def phase(name: str, t0: float) -> float:
            now = clock()
            timings[name] = round(timings.get(name, 0.0) + now - t0, 4)
            return now

        t = clock()
        with self.session_factory() as session:
            self._last_poll = utcnow()
            self._load_weights(session)
            self._load_links(session)
            t = phase("weights_and_links", t)
            rows = repo.profile_rows(session)
            t = phase("profile_rows", t)
            repo.attach_profile_parts(session, rows, everything=True)
            t = phase("profile_parts", t)
            smes = list(rows.values())
            docs = [match_docs.profile_doc(r) for r in smes]
            t = phase("profile_docs", t)
            self._refresh_hashes(session, smes, docs)
            t = phase("text_hashes", t)
            vectors = self._vectors(session, "sme", smes, docs, everything=True)
            t = phase("profile_vectors", t)
            if docs:
                self.matcher.upsert_profiles(docs, vectors)
            t = phase("matcher_upsert_profiles", t)
            del vectors
            demands = repo.live_demands(session)
            t = phase("demand_rows", t)
            self._apply(session, "demand", demands)
            t = phase("demands_apply", t)
        # The first lexical snapshot, now rather than in the first request after start-up.
        self.matcher.refresh()
        t = phase("lexical_snapshot", t)
        self.settle()
        t = phase("settle", t)
        timings["total"] = round(sum(timings.values()), 4)
        self.load_timings = timings
        log.info(
            "matcher loaded: %d profiles (%d with vectors), %d needs in %.1fs",
            len(self.matcher.profiles),
            len(self.matcher.profile_vectors),
            len(self.matcher.demands),
            timings["total"],
        )

    def _refresh_hashes(self, session: Session, smes: list, docs: list) -> None:
        """Re-key profiles whose encoding text changed with this version (products added).

        The encoding queue then re-encodes them; their old profile vector serves meanwhile.
        A plain UPDATE: no version bump for the users' records, nothing for the audit log.
        Always on the write factory: it is the one write of start-up.
        """
        stale = {}
        for sme, doc in zip(smes, docs, strict=True):
            digest = match_docs.text_hash(_encoding_text(doc))
            if sme.match_text_hash is not None and sme.match_text_hash != digest:
                stale[sme.id] = digest
        if stale:
            repo.set_text_hashes(session, SmeProfile, stale)
            session.commit()
            for sme in smes:
                if sme.id in stale:  # what the UPDATE wrote, without reading each row again
                    sme.match_text_hash = stale[sme.id]
            log.info("%d profiles re-keyed for per-product encoding", len(stale))

    def settle(self) -> None:
        """Collect once, then keep what the index holds out of later collections (gc.freeze).

        Python's full collection walks every tracked object: with 10^5 profiles in memory that
        is a pause of 0.4-0.6 s of every thread of the process, which the load test saw several
        times a minute as its ranking p99 (bench/load.py, a gc callback). Frozen objects are
        still freed by reference counting when the index drops them; only reference cycles
        among them would outlive it, and the index's documents and arrays hold none.
        """
        if not self.settings.gc_freeze:
            return
        gc.collect()
        gc.freeze()

    def start(self) -> None:
        """Start the background sync and encoding loops (when their intervals are set)."""
        if self.settings.index_poll_seconds > 0:
            self._spawn("index-sync", self._sync_loop)
        if self.settings.encode_poll_seconds > 0:
            self._spawn("encode-queue", self._encode_loop)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def request_stop(self) -> None:
        """Ask the loops (and an encoding run, between batches) to end; safe in a signal handler."""
        self._stop.set()
        self._wake_encoder.set()

    @property
    def stopping(self) -> bool:
        """Whether a stop was asked for."""
        return self._stop.is_set()

    def wait_stop(self, seconds: float) -> bool:
        """Sleep up to `seconds`, woken early by a stop; whether one was asked for."""
        return self._stop.wait(seconds)

    def stop(self) -> None:
        """Stop the loops and the encoder thread."""
        self.request_stop()
        for thread in self._threads:
            thread.join(timeout=10)
        self.encoder.close()

    def __enter__(self) -> "MatchingRuntime":
        return self

    def __exit__(self, *_exc: object) -> None:
        """A runtime used as a context manager (a command's) is stopped when it ends."""
        self.stop()

    def _sync_loop(self) -> None:
        while not self._stop.wait(self.settings.index_poll_seconds):
            try:
                self.sync()
            except Exception:  # pragma: no cover - keep polling through transient faults
                log.exception("index sync failed")

    def _encode_loop(self) -> None:
        while not self._stop.is_set():
            try:
                done = self.encode_pending()
            except Exception:  # pragma: no cover
                log.exception("encoding queue failed")
                done = 0
            if not done:
                self._wake_encoder.wait(self.settings.encode_poll_seconds)
                self._wake_encoder.clear()

    # -- the write path (inside the request's transaction) ------------------------------------

    def record_sme(self, session: Session, sme: SmeProfile, encode: bool = True) -> None:
        """Note a written profile: new text hash, vectors if asked, and a change-log entry."""
        text = match_docs.sme_encoding_text(sme)
        self._record(session, "sme", sme, text, encode, self.encode_profiles)

    def encode_profiles(
        self, texts: list[str], threads: int | None = None, cache: VectorCache | None = None
    ) -> list[np.ndarray]:
        """Per encoding text: one row for the profile and one per product (one encoder batch).

        Each distinct passage is encoded once (and none `cache` holds): a vector does not
        depend on the batch it was encoded in.
        """
        parts = [match_docs.split_passages(t) for t in texts]
        flat, _ = encode_distinct(
            lambda xs: self.encoder.encode_passages(xs, threads=threads),
            [p for ps in parts for p in ps],
            self.encoder.dim,
            cache,
        )
        bounds = np.cumsum([0, *(len(ps) for ps in parts)])
        return [flat[a:b] for a, b in pairwise(bounds)]

    def _encode_demands(self, texts: list[str], threads: int | None = None) -> list[np.ndarray]:
        vectors, _ = encode_distinct(
            lambda xs: self.encoder.encode_queries(xs, threads=threads), texts, self.encoder.dim
        )
        return list(vectors)

    def record_demand(self, session: Session, demand: Demand, encode: bool = True) -> None:
        """Note a written need."""
        text = match_docs.demand_match_text(demand)
        self._record(session, "demand", demand, text, encode, self.encoder.encode_queries)

    def queue_smes(self, session: Session, rows: list[SmeProfile]) -> None:
        """Note many written profiles; the encoding queue computes their vectors later."""
        self._queue(session, "sme", rows, match_docs.sme_encoding_text)

    def queue_demands(self, session: Session, rows: list[Demand]) -> None:
        """Note many written needs; the encoding queue computes their vectors later."""
        self._queue(session, "demand", rows, match_docs.demand_match_text)

    def _queue(self, session: Session, entity_type: str, rows: list, text_fn) -> None:
        for row in rows:
            row.match_text_hash = match_docs.text_hash(text_fn(row))
        session.flush()
        for row in rows:
            repo.record_change(session, entity_type, row.id)

    def record_deleted(self, session: Session, entity_type: str, entity_id: int) -> None:
        """Note an entity to reload whose matching text did not change (deleted, renamed leader)."""
        repo.record_change(session, entity_type, entity_id)

    def _record(self, session, entity_type, row, text, encode, fn) -> None:
        # Set before the row's own flush, so a write bumps its version only once.
        digest = match_docs.text_hash(text)
        if row.match_text_hash != digest:
            row.match_text_hash = digest
        session.flush()
        if encode:
            stored = repo.embeddings_for(session, entity_type, [row.id], self.encoder.name)
            current = stored.get(row.id)
            if current is None or current.text_hash != digest:
                vector = fn([text])[0]
                self.encoded += 1
                repo.save_embedding(session, entity_type, row.id, self.encoder.name, digest, vector)
        repo.record_change(session, entity_type, row.id)

    def after_commit(self) -> None:
        """Apply this process's own writes at once and wake the encoder."""
        self.sync()
        self._wake_encoder.set()

    # -- sync ------------------------------------------------------------------------------

    def sync(self) -> int:
        """Apply the changes logged since the last poll; returns how many entities changed."""
        with self._sync_lock, self.read_session_factory() as session:
            now = utcnow()
            if self.cursor.high is None:
                # The first poll: what was logged around the load; later ones only what is new.
                last = repo.last_change_id(session)
                rows = repo.change_rows_since(session, (self._last_poll or now) - LOOKBACK)
                fresh = self.cursor.start([r[0] for r in rows], last, now)
            else:
                rows = repo.change_rows(
                    session, self.cursor.high, self.cursor.ranges(), now - LOOKBACK
                )
                fresh = self.cursor.advance((r[0] for r in rows), now)
            self._last_poll = now
            todo: dict[str, set[int]] = {}
            for change_id, entity_type, entity_id in rows:
                if change_id in fresh:
                    todo.setdefault(entity_type, set()).add(entity_id)
            if "weights" in todo:
                self._load_weights(session)
            if "link" in todo:
                self._load_links(session)
            if "sme" in todo:
                ids = sorted(todo["sme"])
                for start in range(0, len(ids), SYNC_CHUNK):
                    if start:
                        # A bulk import reaches every process at once: between chunks the
                        # interpreter lock is left to the requests for a moment.
                        time.sleep(SYNC_PAUSE)
                    chunk = ids[start : start + SYNC_CHUNK]
                    found = repo.profile_rows(session, chunk)
                    repo.attach_profile_parts(session, found, everything=False)
                    self.matcher.remove_profiles(set(chunk) - set(found))
                    self._apply(session, "sme", list(found.values()))
            if "demand" in todo:
                found = repo.demands_by_ids(session, todo["demand"])
                self.matcher.remove_demands(todo["demand"] - {r.id for r in found})
                self._apply(session, "demand", found)
            applied = sum(len(v) for v in todo.values())
        if applied >= SETTLE_AFTER:
            self.settle()
        return applied

    def _vectors(
        self, session, entity_type, rows, docs=None, everything: bool = False
    ) -> list[np.ndarray | None]:
        """Stored vectors of the rows' current texts (None where stale or missing).

        A profile's value has one row for the profile and one per product. A profile vector
        stored before products were encoded (its hash is that of the profile text alone) is
        still used, as the profile row only, until the queue re-encodes it. `everything`: the
        rows are all live ones, so every stored vector of the kind is read by id ranges.
        """
        position = {row.id: i for i, row in enumerate(rows)}
        out: list[np.ndarray | None] = [None] * len(rows)
        ids = None if everything else list(position)
        for entity_id, digest, dim, data in repo.stored_vectors(
            session, entity_type, self.encoder.name, ids
        ):
            i = position.get(entity_id)
            if i is None:
                continue
            row = rows[i]
            if digest == row.match_text_hash:
                value = np.frombuffer(data, dtype="<f4").copy()
                out[i] = value.reshape(-1, dim) if entity_type == "sme" else value
            elif (
                entity_type == "sme"
                and docs is not None
                and digest == match_docs.text_hash(match_docs.profile_text(docs[i]))
            ):
                out[i] = np.frombuffer(data, dtype="<f4")[:dim].copy()
        return out

    def _apply(self, session: Session, entity_type: str, rows: Iterable) -> None:
        """Drop the deleted rows of a kind from the matcher, put in the live ones with their
        stored vectors."""
        matcher = self.matcher
        remove, upsert, doc = {
            "sme": (matcher.remove_profiles, matcher.upsert_profiles, match_docs.profile_doc),
            "demand": (matcher.remove_demands, matcher.upsert_demands, match_docs.demand_doc),
        }[entity_type]
        rows = list(rows)
        remove([r.id for r in rows if r.deleted_at is not None])
        live = [r for r in rows if r.deleted_at is None]
        if live:
            docs = [doc(r) for r in live]
            upsert(docs, self._vectors(session, entity_type, live, docs))

    def _load_weights(self, session: Session) -> None:
        """The fusion weights: defaults < the applied set < CHAINMATCH_MATCH_WEIGHTS.

        The applied set is the active `ranking_weights` row (`chainmatch tune --from-feedback
        --apply`); an explicit setting of the deployment wins over it, key by key.
        """
        row = feedback_repo.active_weights(session)
        row_id = row.id if row is not None else None
        applied = dict(row.weights) if row is not None else {}
        known = {f.name for f in fields(FusionWeights)}
        if set(applied) - known:
            log.warning(
                "applied weights %s: unknown component(s) %s ignored",
                row_id,
                ", ".join(sorted(set(applied) - known)),
            )
        applied = {k: float(v) for k, v in applied.items() if k in known}
        weights = FusionWeights.from_dict({**applied, **self.settings.match_weights})
        self.weights = weights
        self.matcher.weights = weights
        if row_id != self.weights_id:
            log.info("fusion weights: %s", f"applied set {row_id}" if row_id else "defaults")
        self.weights_id = row_id

    def _load_links(self, session: Session) -> None:
        try:
            version = resolve_version(session)
        except Exception:  # no taxonomy loaded yet
            return
        links = repo.links_of_version(session, version.id)
        docs = [match_docs.link_doc(x) for x in links]
        texts = [match_docs.link_match_text(x) for x in links]
        stored = repo.embeddings_for(session, "link", [x.id for x in links], self.encoder.name)
        vectors = [
            repo.from_bytes(stored[x.id].vector)
            if x.id in stored and stored[x.id].text_hash == match_docs.text_hash(t)
            else None
            for x, t in zip(links, texts, strict=True)
        ]
        complete = bool(vectors) and all(v is not None for v in vectors)
        self._links_encoded = complete
        placer = LinkPlacer().fit(docs, np.stack(vectors) if complete else None) if docs else None
        self.matcher.set_placer(placer, {d.code: d.name for d in docs})

    # -- the encoding queue --------------------------------------------------------------------

    def encode_links(self) -> int:
        """Encode the current taxonomy's links that lack a vector; returns how many."""
        with self.session_factory() as session:
            version = resolve_version(session)
            links = repo.links_of_version(session, version.id)
            texts = [match_docs.link_match_text(x) for x in links]
            stored = repo.embeddings_for(session, "link", [x.id for x in links], self.encoder.name)
            todo = [
                (x.id, t)
                for x, t in zip(links, texts, strict=True)
                if x.id not in stored or stored[x.id].text_hash != match_docs.text_hash(t)
            ]
        for start in range(0, len(todo), self.settings.encode_batch):
            chunk = todo[start : start + self.settings.encode_batch]
            # Encode outside any transaction: slow work must not hold database locks.
            vectors = self.encoder.encode_passages([t for _, t in chunk])
            with self.session_factory() as session:
                for (link_id, text), vector in zip(chunk, vectors, strict=True):
                    repo.save_embedding(
                        session,
                        "link",
                        link_id,
                        self.encoder.name,
                        match_docs.text_hash(text),
                        vector,
                    )
                if start + len(chunk) >= len(todo):
                    repo.record_change(session, "link", 0)
                session.commit()
        self._links_encoded = True
        return len(todo)

    def encode_pending(
        self, limit: int | None = None, progress: Callable[[int], None] | None = None
    ) -> int:
        """Encode queued texts in batches until none is left (or `limit`); returns how many."""
        done = 0
        with self._encode_lock:
            if not self._links_encoded:
                self.encode_links()
            started = False
            try:
                # A stop ends the run between batches: what is claimed is stored first.
                while (limit is None or done < limit) and not self._stop.is_set():
                    jobs = self._claim_batch()
                    if not jobs:
                        break
                    if not started:
                        # Counted once a batch is claimed (an idle poll costs no COUNT query);
                        # claimed texts still count as pending until their vectors are stored.
                        self.progress.start(max(self.pending_count(), len(jobs)))
                        started = True
                    batch = self._encode_batch(jobs)
                    done += batch
                    self.progress.advance(batch)
                    if progress:
                        progress(batch)
            finally:
                if started:
                    self.progress.finish()
                    self.passage_cache.clear()  # the bulk load is over: keep no memory for it
        return done

    def pending_count(self) -> int:
        """Texts (profiles and needs, every process's) waiting for a vector."""
        with self.read_session_factory() as session:
            return sum(repo.count_pending(session, t, self.encoder.name) for t in ("sme", "demand"))

    def _claim_batch(self) -> list[tuple[str, int, str]]:
        """Claim up to one batch of stale texts and read them; returns (type, id, text)."""
        size = self.settings.encode_batch
        with self.session_factory() as session:
            repo.expire_claims(session, utcnow() - timedelta(minutes=10))
            claimed: list[tuple[str, int]] = []
            for entity_type in ("sme", "demand"):
                for entity_id, digest in repo.pending(
                    session, entity_type, self.encoder.name, size
                ):
                    if repo.try_claim(session, entity_type, entity_id, digest, self.instance):
                        claimed.append((entity_type, entity_id))
            session.commit()
            jobs = []
            sme_ids = [i for t, i in claimed if t == "sme"]
            if sme_ids:
                rows = repo.profile_rows(session, sme_ids)
                repo.attach_profile_parts(session, rows, everything=False)
                jobs += [
                    ("sme", r.id, _encoding_text(match_docs.profile_doc(r))) for r in rows.values()
                ]
            demand_ids = [i for t, i in claimed if t == "demand"]
            if demand_ids:
                demands = repo.demands_by_ids(session, demand_ids)
                jobs += [("demand", d.id, match_docs.demand_match_text(d)) for d in demands]
            session.commit()
        return jobs

    def _encode_batch(self, jobs: list[tuple[str, int, str]] | None = None) -> int:
        jobs = self._claim_batch() if jobs is None else jobs
        if not jobs:
            return 0
        try:
            results = []
            for entity_type, fn in (
                ("sme", lambda ts, k: self.encode_profiles(ts, k, self.passage_cache)),
                ("demand", self._encode_demands),
            ):
                group = [j for j in jobs if j[0] == entity_type]
                if group:
                    texts = [text for _, _, text in group]
                    vectors = self._tuned(fn, texts)
                    self.encoded += len(group)
                    results += list(zip(group, vectors, strict=True))
            with self.session_factory() as session:
                for entity_type in ("sme", "demand"):
                    items = [
                        (entity_id, match_docs.text_hash(text), vector)
                        for (t, entity_id, text), vector in results
                        if t == entity_type
                    ]
                    if items:
                        repo.save_embeddings(session, entity_type, self.encoder.name, items)
                        for entity_id, _, _ in items:
                            repo.record_change(session, entity_type, entity_id)
                session.commit()
        finally:
            with self.session_factory() as session:
                repo.release_claims(session, self.instance)
                session.commit()
        return len(jobs)

    def _tuned(self, fn, texts: list[str]):
        """`fn(texts, threads)`, with the thread count the tuner picks (when it applies)."""
        if not hasattr(self.encoder.encoder, "num_threads"):
            return fn(texts, None)
        # Characters stand for tokens: the tuner only compares rates of similar batches.
        return self.tuner.map(fn, texts, lambda ts: sum(len(t) for t in ts))

    def status(self) -> dict:
        """Index size, the encoding backlog and the queue's progress (texts, rate, time left)."""
        pending = self.pending_count()
        return {
            "encoder": self.encoder.name,
            "dim": self.encoder.dim,
            "profiles": len(self.matcher.profiles),
            "profiles_with_vectors": len(self.matcher.profile_vectors),
            "demands": len(self.matcher.demands),
            "pending_encodings": pending,
            "links_encoded": self._links_encoded,
            # The applied weight set in use (`ranking_weights` id), None for the defaults.
            "applied_weights": self.weights_id,
            "encoded_by_this_process": self.encoded,
            "instance": self.instance,
            # Profile writes scored with the lexical snapshot's IDF until its next rebuild.
            "lexical_writes_pending": self.matcher.profile_lexical.pending,
            **self.progress.snapshot(pending),
            # The thread count the queue's tuner finds fastest so far (None: not measured).
            "encoding_threads": self.tuner.best(),
        }
