"""CLI command ``wayfinder synth``: write a synthetic scenario drop and its truth.json.

``wayfinder synth --out DIR --seed N --scale {city,region,national} [--null] [--null-model housemates]`` (``sample`` is also
accepted: the small drop committed in data/sample/). The drop follows shared/DATA_CONTRACT.md; the
truth format is in docs/FRAMES.md. ``register(app)`` adds the command to the Typer app of api/cli/__init__.py.
"""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer


class StyleName(str, Enum):
    contract = "contract"
    exports = "exports"


class ScaleName(str, Enum):
    sample = "sample"
    city = "city"
    region = "region"
    national = "national"


def synth(
    out: Path = typer.Option(..., "--out", help="folder to write the drop and truth.json into"),
    seed: int = typer.Option(1, "--seed", help="random seed: the scenario is a deterministic function of it"),
    scale: ScaleName = typer.Option(ScaleName.city, "--scale", help="sample (a few hundred rows), city (~5k "
                                    "episodes), region (~100k), national (>= 1M)"),
    null: bool = typer.Option(False, "--null", help="same volumes and distributions, no planted structure"),
    null_model: str = typer.Option(None, "--null-model", help="a null with more realism (implies --null): "
                                   "'housemates' = children are also found back at their own homes, so "
                                   "housemates share a found-at place by chance (geo.scenario.nulls)"),
    populations: bool = typer.Option(False, "--populations", help="also write a synthetic populations.csv "
                                     "(child population per ward, labelled synthetic) for rates"),
    style: StyleName = typer.Option(StyleName.contract, "--style", help="contract: a drop in the contract's "
                                    "form; exports: the same data as police, social-care and RHI systems "
                                    "export it (read with data/mappings/), the contract form in DIR/contract"),
    addresses: Optional[Path] = typer.Option(None, "--addresses", help="also write an address register "
                                             "(uprn, address, postcode, easting, northing) of the scenario's "
                                             "house addresses, for `wayfinder reference --addresses`"),
) -> None:
    """Generate a synthetic drop (fictional children on real Birmingham places) and its truth.json."""
    import time

    from geo.scenario.generator import generate
    if style is StyleName.exports:
        from geo.scenario.exports import generate_exports as generate

    if out.exists() and not out.is_dir():
        typer.echo(f"wayfinder: {out} exists and is not a folder", err=True)
        raise typer.Exit(1)
    t0 = time.perf_counter()
    try:
        extra = {"populations": True} if populations else {}
        if extra and style is StyleName.exports:
            raise ValueError("--populations is written with --style contract only")
        truth = generate(out, seed=seed, scale=scale.value, null=null_model or null, **extra)
    except (OSError, ValueError) as exc:
        typer.echo(f"wayfinder: synth failed: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(1)
    if addresses is not None:
        from geo.scenario.addresses import write_address_register
        typer.echo(f"wrote {write_address_register(addresses, seed)} addresses -> {addresses}")
    counts = ", ".join(f"{k.removesuffix('.csv')} {v}" for k, v in truth.get("exports", truth["counts"]).items())
    typer.echo(f"wrote {out} ({scale.value}{', null ' + truth.get('null_model', '') if truth['null'] else ''}, seed {seed}) in "
               f"{time.perf_counter() - t0:.1f} s: {counts}; {len(truth['bad_rows'])} bad rows; truth.json")


def register(app: typer.Typer) -> None:
    """Add ``synth`` to the wayfinder CLI."""
    app.command("synth")(synth)
