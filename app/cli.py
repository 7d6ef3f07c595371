"""The chainmatch command line: seed, import, export, reindex, eval."""

import json
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from app.config import get_settings
from app.db import make_engine, make_session_factory, unit_of_work
from app.main import limit_blas_threads
from app.repositories import matching as matching_repo
from app.services import demo, taxonomy
from app.services.matching import MatchingRuntime, build_encoder

cli = typer.Typer(help="链配 chainmatch 命令行 / command line", no_args_is_help=True)
console = Console()


def _factory():
    settings = get_settings()
    return settings, make_session_factory(make_engine(settings.database_url))


@cli.command("seed-taxonomy")
def seed_taxonomy(
    directory: Annotated[
        Path | None, typer.Option(help="folder of taxonomy JSON files (default data/chains)")
    ] = None,
) -> None:
    """Load (or update) the chain taxonomy versions; safe to run again."""
    settings, factory = _factory()
    with unit_of_work(factory) as session:
        for stats in taxonomy.load_taxonomy_dir(
            session, directory or settings.data_dir / "chains", settings.taxonomy_version
        ):
            console.print(
                f"taxonomy {stats.version}: {stats.chains} chains, {stats.sub_chains} sub-chains, "
                f"{stats.links} links ({stats.created} created, {stats.updated} updated)"
            )


@cli.command("seed-demo")
def seed_demo(
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="skip when SME profiles already exist")
    ] = False,
) -> None:
    """Load the demo leaders, needs and SME profiles (records already there are skipped)."""
    settings, factory = _factory()
    with unit_of_work(factory) as session:
        taxonomy.load_taxonomy_dir(session, settings.data_dir / "chains", settings.taxonomy_version)
    with MatchingRuntime(settings, factory) as runtime:
        with unit_of_work(factory) as session:
            if if_empty and demo.demo_loaded(session):
                console.print("demo data: already loaded, skipped")
            else:
                stats = demo.load_demo(session, settings, index=runtime)
                console.print(
                    f"demo data: {stats.leaders} leaders, {stats.demands} needs, "
                    f"{stats.smes} SME profiles, {stats.accounts} demo accounts added"
                )
        _encode_with_progress(runtime, factory)


def _rate_text(rate: float | None) -> str:
    return f"{rate:.1f} texts/s" if rate else "- texts/s"


def _eta_text(seconds: float | None) -> str:
    if seconds is None:
        return "left -"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"left {hours}:{minutes:02d}:{secs:02d}" if hours else f"left {minutes}:{secs:02d}"


def _progress_bar() -> Progress:
    """done/total, the queue's own rate over its recent window, and the time left at it."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TextColumn("{task.fields[eta]}"),
        TimeElapsedColumn(),
        console=console,
    )


def _encode_with_progress(runtime: MatchingRuntime, factory) -> int:
    """Encode the queue (links, then profiles and needs) with a progress bar."""
    total = runtime.pending_count()
    links = runtime.encode_links()
    if links:
        console.print(f"encoded {links} chain links ({runtime.encoder.name})")
    if not total:
        return links
    with _progress_bar() as progress:
        task = progress.add_task(
            "encoding", total=total, rate=_rate_text(None), eta=_eta_text(None)
        )

        def advance(n: int) -> None:
            snap = runtime.progress.snapshot()
            progress.update(
                task,
                advance=n,
                total=max(snap["encoding_total"] or total, total),
                rate=_rate_text(snap["encoding_rate"]),
                eta=_eta_text(snap["encoding_eta_seconds"]),
            )

        done = runtime.encode_pending(progress=advance)
    snap = runtime.progress.snapshot()
    rate = f" ({_rate_text(snap['encoding_rate'])})" if snap["encoding_rate"] else ""
    console.print(f"encoded {done} texts with {runtime.encoder.name}{rate}")
    return links + done


def _queue_counts(factory, encoder: str) -> dict[str, dict[str, int]]:
    with factory() as session:
        return {
            kind: {
                "pending": matching_repo.count_pending(session, kind, encoder),
                "vectors": matching_repo.count_embeddings(session, kind, encoder),
            }
            for kind in ("sme", "demand")
        }


@cli.command("index-status")
def index_status(
    watch: Annotated[
        bool, typer.Option("--watch", help="follow the queue (a server encodes it) until empty")
    ] = False,
    interval: Annotated[float, typer.Option(help="seconds between looks with --watch")] = 2.0,
    timeout: Annotated[
        float | None, typer.Option(help="with --watch: give up after this many seconds")
    ] = None,
) -> None:
    """Stored vectors and texts waiting for one, per kind, for the configured encoder."""
    import time

    from app.services.matching import EncodeProgress

    settings, factory = _factory()
    encoder = build_encoder(settings).name  # e5 loads its model lazily: nothing loaded here
    counts = _queue_counts(factory, encoder)
    table = Table(title=f"index · {encoder}")
    for col in ("kind", "vectors", "pending"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    for kind, label in (("sme", "SME profiles"), ("demand", "needs")):
        table.add_row(label, str(counts[kind]["vectors"]), str(counts[kind]["pending"]))
    console.print(table)
    pending = sum(c["pending"] for c in counts.values())
    console.print(f"pending_encodings: {pending}")
    if not watch or not pending:
        return
    # The rate is what the database shows leaving the queue, whichever process encodes it.
    seen = EncodeProgress()
    seen.start(pending)
    start = time.monotonic()
    with _progress_bar() as progress:
        task = progress.add_task(
            "encoding", total=pending, rate=_rate_text(None), eta=_eta_text(None)
        )
        while pending:
            if timeout is not None and time.monotonic() - start > timeout:
                break
            time.sleep(interval)
            now = sum(c["pending"] for c in _queue_counts(factory, encoder).values())
            if now < pending:
                seen.advance(pending - now)
            elif now > pending:  # more were written meanwhile
                seen.total = (seen.total or 0) + now - pending
            pending = now
            snap = seen.snapshot(pending)
            progress.update(
                task,
                completed=snap["encoding_done"],
                total=snap["encoding_total"],
                rate=_rate_text(snap["encoding_rate"]),
                eta=_eta_text(snap["encoding_eta_seconds"]),
            )
    console.print(f"pending_encodings: {pending}")
    if pending:
        raise typer.Exit(code=1)


@cli.command()
def reindex(
    force: Annotated[
        bool, typer.Option("--force", help="re-encode everything, even up-to-date vectors")
    ] = False,
) -> None:
    """Encode every text that lacks a vector of the configured encoder (after a model change)."""
    settings, factory = _factory()
    with MatchingRuntime(settings, factory) as runtime:
        if force:
            with unit_of_work(factory) as session:
                removed = matching_repo.delete_embeddings(session, runtime.encoder.name)
            console.print(f"dropped {removed} stored vectors of {runtime.encoder.name}")
        _encode_with_progress(runtime, factory)


def _work(name: str, runtime: MatchingRuntime, interval: float, step, once: bool = False) -> None:
    """Run `step()` until stopped (SIGTERM or Ctrl-C, between steps); wait `interval` when it
    found nothing to do (or stop, with `once`)."""

    def stop(_signum, _frame) -> None:
        runtime.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with runtime:
        while not runtime.stopping:
            if step():
                continue
            if once:
                break
            runtime.wait_stop(interval)
    console.print(f"{name} stopped")


@cli.command("encode-worker")
def encode_worker(
    poll: Annotated[
        float | None, typer.Option(help="seconds between looks at an empty queue")
    ] = None,
) -> None:
    """Encode queued texts as they arrive, until stopped (SIGTERM or Ctrl-C, between batches).

    For deployments that run the encoder apart from the API processes: start those with
    CHAINMATCH_ENCODE_POLL_SECONDS=0 and one or more of these at a lower priority. A bulk
    encoding run then shares no interpreter lock with the rankings (a thread at a lower nice
    value that holds the lock while the kernel has it waiting stalls every request of its
    process), and the kernel's priorities alone decide who gets the cores.
    """
    settings, factory = _factory()
    limit_blas_threads(settings.blas_threads)
    runtime = MatchingRuntime(settings, factory)
    interval = poll if poll is not None else (settings.encode_poll_seconds or 1.0)

    def step() -> bool:
        done = runtime.encode_pending()
        if done:
            snap = runtime.progress.snapshot()
            rate = f" ({_rate_text(snap['encoding_rate'])})" if snap["encoding_rate"] else ""
            console.print(f"encoded {done} texts{rate}")
        return bool(done)

    console.print(f"encode worker: {runtime.encoder.name}, queue polled every {interval:g} s")
    _work("encode worker", runtime, interval, step)


@cli.command("import-worker")
def import_worker(
    poll: Annotated[
        float | None, typer.Option(help="seconds between looks at an empty queue")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="run what is queued, then stop")] = False,
) -> None:
    """Run queued import jobs (POST /api/v1/import/jobs/...) until stopped.

    For deployments that keep bulk loads out of the API processes: start those with
    CHAINMATCH_IMPORT_POLL_SECONDS=0 and one of these at a lower priority (nice). It loads no
    index: the API processes take the imported rows from the change log, and the encoding queue
    computes their vectors.
    """
    from app.services import import_jobs

    settings, factory = _factory()
    runtime = MatchingRuntime(settings, factory)
    interval = poll if poll is not None else (settings.import_poll_seconds or 1.0)

    def step() -> bool:
        job = import_jobs.run_next(factory, settings, runtime, runtime.instance)
        if job is not None:
            console.print(
                f"import job {job.id}: {job.status_label}, {job.created} created, "
                f"{job.updated} updated, {len(job.errors)} problem(s)"
            )
        return job is not None

    console.print(f"import worker: queue polled every {interval:g} s")
    _work("import worker", runtime, interval, step, once)


@cli.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(exists=True, help=".csv/.xlsx file, or an export folder")],
    kind: Annotated[
        str | None, typer.Option(help="smes or demands (for a .csv/.xlsx file)")
    ] = None,
    upsert: Annotated[
        bool, typer.Option("--upsert", help="SMEs: rows whose credit code exists update it")
    ] = False,
    restore: Annotated[
        bool,
        typer.Option("--restore", help="load a `chainmatch export` folder into an empty database"),
    ] = False,
) -> None:
    """Import a CSV or XLSX file (all or nothing), or restore an export; then encode what is new."""
    from app.errors import DomainError, InvalidInput
    from app.services import backup, imports

    settings, factory = _factory()
    if restore:
        engine = make_engine(settings.database_url)
        try:
            with engine.begin() as conn:
                counts = backup.restore_jsonl(conn, path)
        except DomainError as exc:
            console.print(f"[red]{exc.message_zh} / {exc.message}[/red]")
            raise typer.Exit(code=1) from None
        finally:
            engine.dispose()
        console.print(f"restored {sum(counts.values())} rows in {len(counts)} tables")
        return
    if kind not in ("smes", "demands") or not path.is_file():
        raise typer.BadParameter("give --kind smes|demands and a .csv/.xlsx file, or --restore")
    with MatchingRuntime(settings, factory) as runtime:
        try:
            with unit_of_work(factory) as session:
                content = path.read_bytes()
                if kind == "smes":
                    result = imports.import_smes(
                        session, path.name, content, settings, runtime, upsert=upsert
                    )
                else:
                    result = imports.import_demands(session, path.name, content, settings, runtime)
            console.print(f"imported {kind}: {result.created} created, {result.updated} updated")
            _encode_with_progress(runtime, factory)
        except InvalidInput as exc:
            console.print(f"[red]nothing imported: {len(exc.errors)} problem(s)[/red]")
            for e in exc.errors[:200]:
                where = f"第{e.row}行 " if e.row else ""
                console.print(f"  {where}{e.column or ''}: {e.msg_zh}")
            raise typer.Exit(code=1) from None


@cli.command("export")
def export_command(
    directory: Annotated[Path, typer.Argument(file_okay=False, help="folder to write")],
) -> None:
    """Write every table to <dir>/<table>.jsonl (restorable) and <dir>/chainmatch.xlsx."""
    from app.services import backup

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            counts = backup.export_jsonl(conn, directory)
            backup.export_xlsx(conn, directory / "chainmatch.xlsx")
    finally:
        engine.dispose()
    console.print(f"exported {sum(counts.values())} rows in {len(counts)} tables to {directory}")


@cli.command("create-user")
def create_user(
    username: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option(help="admin | organizer | leader | sme")] = "organizer",
    password: Annotated[
        str | None,
        typer.Option(
            help="password (asked for when left out; or CHAINMATCH_NEW_PASSWORD)",
            envvar="CHAINMATCH_NEW_PASSWORD",
        ),
    ] = None,
    leader_id: Annotated[int | None, typer.Option(help="leader firm of a leader account")] = None,
    sme_id: Annotated[int | None, typer.Option(help="SME profile of an SME account")] = None,
    display_name: Annotated[str, typer.Option(help="name shown in the console")] = "",
) -> None:
    """Create an account (for instance the first admin)."""
    from app.errors import Conflict, InvalidInput
    from app.services import auth

    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    _settings, factory = _factory()
    try:
        with unit_of_work(factory) as session:
            user = auth.create_user(
                session,
                username,
                password,
                role,
                display_name=display_name,
                leader_id=leader_id,
                sme_id=sme_id,
            )
            user_id = user.id
    except InvalidInput as exc:
        for err in exc.errors:
            console.print(f"[red]{err.loc[-1]}: {err.msg_zh} / {err.msg}[/red]")
        raise typer.Exit(2) from None
    except Conflict as exc:
        console.print(f"[red]{exc.message_zh} / {exc.message}[/red]")
        raise typer.Exit(2) from None
    console.print(f"created user {username} (id {user_id}, role {role})")


@cli.command("show-settings")
def show_settings() -> None:
    """Print the effective settings (from CHAINMATCH_* variables)."""
    console.print_json(json.dumps(get_settings().model_dump(mode="json"), ensure_ascii=False))


def main() -> None:
    """Console-script entry point."""
    cli()


def _eval_settings(encoder_name: str | None, model: str | None):
    settings = get_settings()
    update = {}
    if encoder_name:
        update["encoder"] = encoder_name
    if model:
        update["encoder_model"] = model
    return settings.model_copy(update=update) if update else settings


def _eval_inputs(settings, set_names: list[str]):
    """Links, the named sets and their vectors (cached under var/cache), with a progress bar."""
    from app.services import evaluation

    links = evaluation.links_from_taxonomy(
        settings.data_dir / "chains" / f"{settings.taxonomy_version}.json"
    )
    link_chain = {link.code: link.chain for link in links}
    sets = {name: evaluation.load_set(name, settings.data_dir, link_chain) for name in set_names}
    encoder = build_encoder(settings)
    total = sum(evaluation.passage_count(data, links) for data in sets.values())
    out = {}
    with Progress(
        TextColumn("[bold]encoding (cached)"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("encode", total=total)
        for name, data in sets.items():
            vectors = evaluation.encode_eval_set(
                data,
                links,
                encoder,
                settings.data_dir.parent / "var" / "cache",
                progress=lambda n: progress.advance(task, n),
            )
            out[name] = (data, vectors)
    return links, out, encoder


def _scores_row(table, label: str, scores, extra=()) -> None:
    d = scores.as_dict()
    table.add_row(label, f"{d['nDCG@10']:.3f}", *extra, f"{d['Recall@50']:.3f}", f"{d['MRR']:.3f}")


@cli.command("eval")
def eval_command(
    set_name: Annotated[
        str, typer.Option("--set", help="real (data/eval-real, the development set) or synthetic")
    ] = "real",
    split: Annotated[
        str, typer.Option(help="needs to score: test (held out), train, or all")
    ] = "test",
    encoder: Annotated[str | None, typer.Option(help="override CHAINMATCH_ENCODER")] = None,
    model: Annotated[
        str | None, typer.Option(help="model name or path (sentence-transformers encoder)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
    variant: Annotated[
        str,
        typer.Option(
            help="as-written, needs-free-text (needs without chain/link/keywords) "
            "or no-structure (both sides without declared chains and links)"
        ),
    ] = "as-written",
    ablations: Annotated[bool, typer.Option(help="also run every ablation (slower)")] = True,
) -> None:
    """nDCG@10, Recall@50 and MRR: full matcher, TF-IDF, e5, the untuned blend, ablations."""
    from rich.table import Table

    from app.services import evaluation
    from matching.features import FusionWeights

    if set_name not in evaluation.SETS:
        raise typer.BadParameter(f"one of {', '.join(evaluation.SETS)}", param_hint="--set")
    if split not in ("test", "train", "all"):
        raise typer.BadParameter("test, train or all", param_hint="--split")
    if variant not in ("as-written", "needs-free-text", "no-structure"):
        raise typer.BadParameter(
            "as-written, needs-free-text or no-structure", param_hint="--variant"
        )
    settings = _eval_settings(encoder, model)
    limit_blas_threads(settings.blas_threads)
    links, sets, enc = _eval_inputs(settings, [set_name])
    data, vectors = sets[set_name]
    if variant != "as-written":
        # Needs without keywords read differently: their vectors are encoded (and cached) anew.
        data = evaluation.without_structure(data, demands=True, profiles=variant == "no-structure")
        vectors = evaluation.encode_eval_set(
            data, links, enc, settings.data_dir.parent / "var" / "cache"
        )
    weights = FusionWeights.from_dict(settings.match_weights)
    run = evaluation.run_evaluation(
        set_name,
        data,
        vectors,
        links,
        weights,
        settings.match_candidates,
        None if split == "all" else split,
        with_ablations=ablations,
    )
    blend = run.demands["blend"]
    tfidf = run.demands["tfidf"]
    full = run.demands["full"]
    summary = {
        "encoder": enc.name,
        "variant": variant,
        "full_vs_blend": round(full.ndcg10 / blend.ndcg10, 4) if blend.ndcg10 else None,
        "full_vs_best_single": round(
            full.ndcg10 / max(tfidf.ndcg10, run.demands["dense"].ndcg10, 1e-9), 4
        ),
        "recall50_vs_tfidf": round(full.recall50 - tfidf.recall50, 4),
    }
    if as_json:
        console.print_json(json.dumps({**run.as_dict(), **summary}, ensure_ascii=False))
        return
    styles = [t for t in ("named", "paraphrased") if t in run.by_tag]
    table = Table(
        title=f"chainmatch eval · set={set_name} · {variant} · split={split} · "
        f"{full.queries} needs · {enc.name}"
    )
    for col in ("system → SMEs", "nDCG@10", *styles, "Recall@50", "MRR"):
        table.add_column(col, justify="left" if col.startswith("system") else "right")
    for key, scores in run.demands.items():
        label = evaluation.SYSTEM_LABELS.get(key, f"ablation {key}")
        extra = [f"{run.by_tag[t][key].ndcg10:.3f}" for t in styles]
        _scores_row(table, label, scores, extra)
    console.print(table)
    console.print(
        f"full vs untuned blend: {summary['full_vs_blend']:.3f}x nDCG@10; "
        f"vs the better single signal: {summary['full_vs_best_single']:.3f}x; "
        f"Recall@50 vs TF-IDF: {summary['recall50_vs_tfidf']:+.3f}"
    )
    if not styles:
        tag_table = Table(title="nDCG@10 by tag")
        for col in ("tag", "needs", "full", "TF-IDF", "e5", "blend"):
            tag_table.add_column(col)
        for tag, r in run.by_tag.items():
            tag_table.add_row(
                tag,
                str(r["full"].queries),
                *(f"{r[s].ndcg10:.3f}" for s in ("full", "tfidf", "dense", "blend")),
            )
        console.print(tag_table)
    reverse = Table(title=f"SME → needs · {run.reverse['full'].queries} profiles")
    for col in ("system → needs", "nDCG@10", "Recall@50", "MRR"):
        reverse.add_column(col, justify="left" if col.startswith("system") else "right")
    for key, scores in run.reverse.items():
        _scores_row(reverse, evaluation.SYSTEM_LABELS[key], scores)
    console.print(reverse)


@cli.command()
def tune(
    encoder: Annotated[str | None, typer.Option(help="override CHAINMATCH_ENCODER")] = None,
    model: Annotated[
        str | None, typer.Option(help="model name or path (sentence-transformers encoder)")
    ] = None,
    from_feedback: Annotated[
        bool,
        typer.Option(
            "--from-feedback",
            help="refit from the labels of use in the configured database (shortlists, "
            "interests, meeting requests and answers, outcomes)",
        ),
    ] = False,
    apply: Annotated[
        bool,
        typer.Option(
            "--apply", help="with --from-feedback: make the new weights active (else only shown)"
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="with --apply: apply even if the held-out split gets worse"),
    ] = False,
    prior_weight: Annotated[
        float,
        typer.Option(help="weight of each real train need mixed in as a prior (0: feedback only)"),
    ] = 1.0,
    feedback_weight: Annotated[float, typer.Option(help="weight of each need with feedback")] = 1.0,
    min_demands: Annotated[
        int, typer.Option(help="fewest needs with a positive label to refit from")
    ] = 5,
) -> None:
    """Learn fusion weights on the train splits (pairwise logistic regression + refinement).

    Uses the real set (weight 1) and the synthetic set as written and without declared
    structure (weight 0.2 each, for what real data lacks: certificates, regions, tiers), and
    prints the weights with cross-validated and held-out figures. Nothing is applied: put the
    JSON into CHAINMATCH_MATCH_WEIGHTS or the defaults of FusionWeights.

    With --from-feedback: refit from what people did with the matches, show current and new
    weights with nDCG@10 on the real set's held-out test split, and apply them only with --apply.
    """
    if (apply or force) and not from_feedback:
        raise typer.BadParameter("--apply and --force go with --from-feedback")
    settings = _eval_settings(encoder, model)
    limit_blas_threads(settings.blas_threads)
    if from_feedback:
        _tune_from_feedback(settings, apply, force, prior_weight, feedback_weight, min_demands)
        return

    from app.services import evaluation
    from matching.features import FusionWeights
    from matching.tuning import fit_pairwise, mean_ndcg, refine

    links, sets, _ = _eval_inputs(settings, ["real", "synthetic"])
    data, vectors = sets["synthetic"]
    sets["synthetic-no-structure"] = (
        evaluation.without_structure(data, demands=True, profiles=True),
        vectors,
    )
    share = {"real": 1.0, "synthetic": 0.2, "synthetic-no-structure": 0.2}
    start = FusionWeights.from_dict(settings.match_weights)
    tables = {s: evaluation.tuning_tables(sets, links, s, start) for s in ("train", "test")}
    train, qrels = tables["train"]
    weight_of = {q: share[q[0]] for q in train}
    fitted, fit_report = fit_pairwise(train, qrels, weight_of)
    best, _ = refine(train, qrels, fitted, weight_of)
    test, test_qrels = tables["test"]
    for name in sets:
        part = {q: f for q, f in train.items() if q[0] == name}
        held = {q: f for q, f in test.items() if q[0] == name}
        console.print(
            f"{name}: train nDCG@10 {mean_ndcg(part, qrels, start):.4f} -> "
            f"{mean_ndcg(part, qrels, best):.4f}; test {mean_ndcg(held, test_qrels, start):.4f}"
            f" -> {mean_ndcg(held, test_qrels, best):.4f}"
        )
    console.print(
        f"pairwise logistic regression: C={fit_report.C} chosen by {fit_report.folds}-fold CV "
        f"over {fit_report.queries} queries ({fit_report.pairs} pairs): "
        + ", ".join(f"C={c}: {v:.4f}" for c, v in fit_report.cv_ndcg.items())
    )
    console.print_json(json.dumps(best.as_dict()))


def _tune_from_feedback(
    settings,
    apply: bool,
    force: bool,
    prior_weight: float,
    feedback_weight: float,
    min_demands: int,
) -> None:
    """`tune --from-feedback`: collect, refit, show, and apply only when asked."""
    from app.services import feedback

    factory = make_session_factory(make_engine(settings.database_url))
    with MatchingRuntime(settings, factory) as runtime:
        runtime.load()
        # Short sessions: a SQLite transaction holds the write lock while it is open.
        with factory() as session:
            data = feedback.collect(session, runtime)
        try:
            feedback.ensure_enough(data, min_demands)
        except feedback.NotEnoughFeedback as exc:
            console.print(f"[red]{exc.message_zh} / {exc.message}; nothing changed[/red]")
            raise typer.Exit(code=1) from None
        links, sets, _ = _eval_inputs(settings, ["real"])
        result = feedback.refit(
            data,
            runtime.weights,
            settings.match_weights,
            sets,
            links,
            prior_weight=prior_weight,
            feedback_weight=feedback_weight,
        )
    _print_refit(result, runtime.weights_id)
    if not apply:
        console.print("nothing applied: run again with --apply to make these weights active")
        return
    try:
        with unit_of_work(factory) as session:
            row = feedback.apply(session, result, force=force)
            row_id = row.id
    except feedback.HeldOutWorse as exc:
        console.print(f"[red]{exc.message_zh} / {exc.message} (--force applies anyway)[/red]")
        raise typer.Exit(code=1) from None
    when = (
        f"within {settings.index_poll_seconds:g} s (CHAINMATCH_INDEX_POLL_SECONDS)"
        if settings.index_poll_seconds > 0
        else "when they next start (CHAINMATCH_INDEX_POLL_SECONDS=0: no polling)"
    )
    console.print(f"applied: weight set {row_id} is active; running processes load it {when}")


def _print_refit(result, current_id: int | None) -> None:
    fb = result.feedback
    console.print(
        f"feedback: {len(fb.queries)} needs with a positive label "
        f"({fb.labelled_demands} with any), {fb.pairs} labelled pairs from {fb.signals} signals; "
        f"weight {result.feedback_weight:g} per need"
    )
    prior = (
        f"real train split, {result.prior_demands} needs, weight {result.prior_weight:g} per need"
        if result.prior_demands
        else "none"
    )
    console.print(f"prior: {prior}")
    fit = result.fit
    console.print(
        f"pairwise logistic regression: C={fit.C} chosen by {fit.folds}-fold CV over "
        f"{fit.queries} queries ({fit.pairs} pairs): "
        + ", ".join(f"C={c}: {v:.4f}" for c, v in fit.cv_ndcg.items())
    )
    source = f"applied set {current_id}" if current_id else "defaults"
    if result.pinned:
        source += " + CHAINMATCH_MATCH_WEIGHTS"
    console.print(f"{'weight':<16}{'current':>10}{'new':>10}{'change':>10}   (current: {source})")
    now, new = result.current.as_dict(), result.proposed.as_dict()
    for name, value in now.items():
        pin = "  (CHAINMATCH_MATCH_WEIGHTS)" if name in result.pinned else ""
        console.print(
            f"{name:<16}{value:>10.4f}{new[name]:>10.4f}{new[name] - value:>+10.4f}{pin}",
            highlight=False,
        )
    console.print(f"{'nDCG@10':<40}{'current':>10}{'new':>10}{'change':>10}")
    rows = (
        (
            f"held-out real test split ({result.heldout_demands} needs)",
            result.heldout_before,
            result.heldout_after,
        ),
        (
            f"feedback needs, fitted on ({len(fb.queries)})",
            result.feedback_before,
            result.feedback_after,
        ),
    )
    for label, before, after in rows:
        console.print(
            f"{label:<40}{before:>10.4f}{after:>10.4f}{after - before:>+10.4f}", highlight=False
        )
    if result.pinned:
        console.print(
            "CHAINMATCH_MATCH_WEIGHTS sets "
            + ", ".join(result.pinned)
            + ": those keep their environment values whatever is applied"
        )


if __name__ == "__main__":
    main()
