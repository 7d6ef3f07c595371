"""The chainmatch command line: seed, import, export, reindex, eval."""

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from app.config import get_settings
from app.db import make_engine, make_session_factory, unit_of_work
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
    runtime = MatchingRuntime(settings, factory)
    try:
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
    finally:
        runtime.stop()


def _encode_with_progress(runtime: MatchingRuntime, factory) -> int:
    """Encode the queue (links, then profiles and needs) with a progress bar."""
    with factory() as session:
        total = sum(
            matching_repo.count_pending(session, t, runtime.encoder.name) for t in ("sme", "demand")
        )
    links = runtime.encode_links()
    if links:
        console.print(f"encoded {links} chain links ({runtime.encoder.name})")
    if not total:
        return links
    with Progress(
        TextColumn("[bold]encoding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("encode", total=total)
        done = runtime.encode_pending(progress=lambda n: progress.advance(task, n))
    console.print(f"encoded {done} texts with {runtime.encoder.name}")
    return links + done


@cli.command()
def reindex(
    force: Annotated[
        bool, typer.Option("--force", help="re-encode everything, even up-to-date vectors")
    ] = False,
) -> None:
    """Encode every text that lacks a vector of the configured encoder (after a model change)."""
    settings, factory = _factory()
    runtime = MatchingRuntime(settings, factory)
    try:
        if force:
            with unit_of_work(factory) as session:
                removed = matching_repo.delete_embeddings(session, runtime.encoder.name)
            console.print(f"dropped {removed} stored vectors of {runtime.encoder.name}")
        _encode_with_progress(runtime, factory)
    finally:
        runtime.stop()


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
    runtime = MatchingRuntime(settings, factory)
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
    finally:
        runtime.stop()


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


if __name__ == "__main__":
    main()


def _eval_inputs(encoder_name: str | None):
    from app.services import evaluation

    settings = get_settings()
    if encoder_name:
        settings = settings.model_copy(update={"encoder": encoder_name})
    links = evaluation.links_from_taxonomy(
        settings.data_dir / "chains" / f"{settings.taxonomy_version}.json"
    )
    data = evaluation.load_eval_set(
        settings.data_dir / "eval", {link.code: link.chain for link in links}
    )
    encoder = build_encoder(settings)
    total = len(data.profiles) + len(data.needs) + len(links)
    with Progress(
        TextColumn("[bold]encoding (cached)"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("encode", total=total)
        vectors = evaluation.encode_eval_set(
            data,
            links,
            encoder,
            settings.data_dir.parent / "var" / "cache",
            progress=lambda n: progress.advance(task, n),
        )
    return settings, data, links, vectors


@cli.command("eval")
def eval_command(
    split: Annotated[
        str, typer.Option(help="needs to score: test (held out), train, or all")
    ] = "test",
    encoder: Annotated[str | None, typer.Option(help="override CHAINMATCH_ENCODER")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    variant: Annotated[
        str,
        typer.Option(
            help="as-written, needs-free-text (needs without chain/link/keywords) "
            "or no-structure (both sides without declared chains and links)"
        ),
    ] = "as-written",
) -> None:
    """nDCG@10, Recall@50 and MRR of the full matcher, TF-IDF alone and dense alone."""
    from rich.table import Table

    from app.services import evaluation
    from matching.features import FusionWeights

    settings, data, links, vectors = _eval_inputs(encoder)
    if variant != "as-written":
        data = evaluation.without_structure(data, needs=True, profiles=variant == "no-structure")
        vectors = evaluation.encode_eval_set(
            data, links, build_encoder(settings), settings.data_dir.parent / "var" / "cache"
        )
    weights = FusionWeights.from_dict(settings.match_weights)
    matcher = evaluation.build_matcher(data, vectors, links, weights, settings.match_candidates)
    ranked = evaluation.rankings(data, vectors, matcher)
    scores = evaluation.report(data, ranked, None if split == "all" else split)
    tags = sorted({t for ts in data.tags.values() for t in ts})
    by_tag = {}
    for tag in tags:
        keep = {n for n, ts in data.tags.items() if tag in ts}
        if split != "all":
            keep = {n for n in keep if data.split.get(n) == split}
        by_tag[tag] = evaluation.report(
            data,
            {s: {q: r for q, r in runs.items() if q in keep} for s, runs in ranked.items()},
            None,
        )
    best_single = max(scores["tfidf"].ndcg10, scores["dense"].ndcg10)
    gain = (scores["full"].ndcg10 / best_single - 1.0) if best_single else 0.0
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "split": split,
                    "variant": variant,
                    "encoder": settings.encoder,
                    "systems": {k: v.as_dict() for k, v in scores.items()},
                    "gain_over_best_single": round(gain, 4),
                    "by_tag": {
                        t: {k: v.as_dict()["nDCG@10"] for k, v in r.items()}
                        for t, r in by_tag.items()
                    },
                },
                ensure_ascii=False,
            )
        )
        return
    table = Table(
        title=f"chainmatch eval · {variant} · split={split} · {scores['full'].queries} needs"
    )
    for col in ("system", "nDCG@10", "Recall@50", "MRR"):
        table.add_column(col, justify="right" if col != "system" else "left")
    names = {"full": "full matcher", "tfidf": "TF-IDF alone", "dense": "dense alone"}
    for key in ("full", "tfidf", "dense"):
        d = scores[key].as_dict()
        table.add_row(names[key], f"{d['nDCG@10']:.3f}", f"{d['Recall@50']:.3f}", f"{d['MRR']:.3f}")
    console.print(table)
    console.print(f"full matcher vs the better single signal: {gain:+.1%} nDCG@10")
    tag_table = Table(title="nDCG@10 by hard-case tag")
    for col in ("tag", "needs", "full", "TF-IDF", "dense"):
        tag_table.add_column(col)
    for tag, r in by_tag.items():
        tag_table.add_row(
            tag,
            str(r["full"].queries),
            f"{r['full'].ndcg10:.3f}",
            f"{r['tfidf'].ndcg10:.3f}",
            f"{r['dense'].ndcg10:.3f}",
        )
    console.print(tag_table)


@cli.command()
def tune(
    encoder: Annotated[str | None, typer.Option(help="override CHAINMATCH_ENCODER")] = None,
) -> None:
    """Choose fusion weights on the train split (coordinate ascent on nDCG@10) and print them.

    The objective averages three versions of the set: as written, needs without chain, link and
    keywords, and both sides without declared structure.
    """
    from app.services import evaluation
    from matching.features import FusionWeights
    from matching.tuning import coordinate_ascent, mean_ndcg

    settings, data, links, _ = _eval_inputs(encoder)
    start = FusionWeights.from_dict(settings.match_weights)
    enc = build_encoder(settings)
    cache = settings.data_dir.parent / "var" / "cache"
    tables: dict[str, dict] = {"train": {}, "test": {}}
    qrels: dict = {}
    variants = {
        "as-written": data,
        "needs-free-text": evaluation.without_structure(data, needs=True),
        "no-structure": evaluation.without_structure(data, needs=True, profiles=True),
    }
    for name, variant in variants.items():
        vecs = evaluation.encode_eval_set(variant, links, enc, cache)
        matcher = evaluation.build_matcher(variant, vecs, links, start, candidates=300)
        for split in tables:
            for need_id, feats in evaluation.feature_table(variant, vecs, matcher, split).items():
                tables[split][(name, need_id)] = feats
                qrels[(name, need_id)] = data.qrels.get(need_id, {})
    best, score = coordinate_ascent(tables["train"], qrels, start)
    console.print(
        f"train nDCG@10 {mean_ndcg(tables['train'], qrels, start):.4f} -> {score:.4f}; "
        f"test {mean_ndcg(tables['test'], qrels, start):.4f} -> "
        f"{mean_ndcg(tables['test'], qrels, best):.4f} (mean over {len(variants)} variants)"
    )
    console.print_json(json.dumps(best.as_dict()))
