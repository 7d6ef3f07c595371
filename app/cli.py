"""The chainmatch command line: seed, import, export, reindex, eval."""

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app.config import get_settings
from app.db import make_engine, make_session_factory, unit_of_work
from app.services import demo, taxonomy

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
    with unit_of_work(factory) as session:
        if if_empty and demo.demo_loaded(session):
            console.print("demo data: already loaded, skipped")
            return
        stats = demo.load_demo(session, settings)
    console.print(
        f"demo data: {stats.leaders} leaders, {stats.demands} needs, "
        f"{stats.smes} SME profiles added"
    )


@cli.command("show-settings")
def show_settings() -> None:
    """Print the effective settings (from CHAINMATCH_* variables)."""
    console.print_json(json.dumps(get_settings().model_dump(mode="json"), ensure_ascii=False))


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
