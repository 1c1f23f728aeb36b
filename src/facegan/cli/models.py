"""The trained models at work on faces: `facegan generate` (PGAN), `edit` (StarGAN),
`degrade` and `restore` (HiFaceGAN's degradation and restoration)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Optional

import typer

from facegan.cli.outputs import OUT_RULE, output_paths, photo_targets, reporting_interrupts, still_to_write
from facegan.errors import UserError
from facegan.hifacegan.params import DEGRADATIONS
from facegan.images import GIF_FORMATS, ImageFolderError, grid, image_paths, read_image, save_gif, save_image

# The `facegan` commands themselves, not a group: cli/__init__.py takes them into its app.
commands = typer.Typer()

Overwrite = Annotated[bool, typer.Option("--overwrite", help="write every output again, even those already in the folder")]
Device = Annotated[str, typer.Option(help="auto, cpu or cuda[:N]")]
PGAN_MODEL, STARGAN_MODEL, HIFACEGAN_MODEL = (Path("data/export/pgan/generator.pt2"), Path("data/stargan/model.pt"),
                                              Path("data/hifacegan/model.pt"))
CLASSIFIER = Path("data/stargan/classifier/model.pt")


def _kept(line: str, todo: list) -> bool:
    """Say which outputs a rerun keeps; whether any is left to write."""
    if line:
        typer.echo(line, err=True)
    return bool(todo)


@commands.command("generate")
def generate_command(
    n: Annotated[int, typer.Option("--n", min=1, help="faces (with --interpolate: rows of faces)")] = 16,
    seed: Annotated[int, typer.Option(help="draws the latents; the same seed gives the same faces anywhere")] = 0,
    out: Annotated[Optional[str], typer.Option(help=f"one image per face; {OUT_RULE}")] = None,
    grid_png: Annotated[Optional[str], typer.Option("--grid", help="one image of all the faces (.png or .jpg)")] = None,
    interpolate: Annotated[int, typer.Option(
        min=0, help="STEPS: each row walks between two random latents in STEPS faces (0: no walk)")] = 0,
    linear: Annotated[bool, typer.Option(
        "--linear", help="walk in a straight line, not spherically (slerp)")] = False,
    gif: Annotated[Optional[str], typer.Option(help="with --interpolate: the walk as an animated GIF")] = None,
    model: Annotated[Path, typer.Option(help="PGAN's exported generator.pt2, or a scale's model.pt")] = PGAN_MODEL,
    device: Device = "auto",
    overwrite: Overwrite = False,
) -> None:
    """Generate faces with PGAN's averaged generator. `--n 64 --seed S` gives the faces of the
    evaluation's fakes.png when S is eval.pgan.seed."""
    if out is None and grid_png is None and gif is None:
        raise UserError("nothing to write: give --out FOLDER, --grid FILE.png or (with --interpolate) --gif FILE.gif")
    if gif is not None and interpolate < 2:
        raise UserError("--gif shows a walk between latents: give --interpolate STEPS (at least 2)")
    if interpolate == 1:
        raise UserError("--interpolate 1 has no walk: give at least 2 steps, or 0 for single faces")
    if interpolate:
        names = [f"row{r:03d}_step{s:02d}.png" for r in range(n) for s in range(interpolate)]
    else:
        names = [f"face{i:05d}.png" for i in range(n)]
    face_paths = output_paths(out, names) if out is not None else []
    grid_path = output_paths(grid_png, ["grid.png"], "--grid")[0] if grid_png is not None else None
    gif_path = output_paths(gif, ["walk.gif"], "--gif", GIF_FORMATS)[0] if gif is not None else None
    faces_to_write = {index: [path] for index, path in enumerate(face_paths)}
    todo, kept = still_to_write(faces_to_write, overwrite, str(out))
    if not _kept(kept, todo) and grid_path is None and gif_path is None:
        return

    from facegan.machine import pick_device
    from facegan.pgan.inference import generate, interpolations, load_pgan

    single = {name: [path] for name, path in (("grid", grid_path), ("gif", gif_path)) if path is not None}
    with reporting_interrupts({**faces_to_write, **single}):
        trained = load_pgan(model, pick_device(device), pipeline=model == PGAN_MODEL)
        if interpolate:
            rows = interpolations(trained, n, interpolate, seed, spherical=not linear)
            faces, columns = rows.reshape(-1, *rows.shape[2:]), interpolate
        else:
            faces, columns = generate(trained, n, seed), None
        for index in todo:
            save_image(faces[index], face_paths[index])
        if grid_path is not None:
            save_image(grid(faces, columns=columns), grid_path, min_side=256)
        if gif_path is not None:
            frames = [grid(rows[:, step]) for step in range(interpolate)]
            save_gif(frames + frames[-2:0:-1], gif_path, min_side=256)  # there and back: the loop has no jump
    written = [str(out)] if out is not None else []
    typer.echo(f"{len(faces)} face(s) of {faces.shape[1]} px from seed {seed}: "
               + ", ".join(written + [str(path) for path in (grid_path, gif_path) if path is not None]))


@commands.command("edit")
def edit_command(
    source: Annotated[Path, typer.Argument(exists=True, help="a face photo, or a folder of them")],
    out: Annotated[str, typer.Option(help=f"one image per photo, or the --all grid; {OUT_RULE}")],
    attrs: Annotated[Optional[str], typer.Option(help="changes, e.g. Blond_Hair,Young or Male=0")] = None,
    all_attrs: Annotated[bool, typer.Option(
        "--all", help="a grid: one row per photo, one column per attribute")] = False,
    model: Annotated[Path, typer.Option(help="train_stargan's model.pt or an exported generator.pt2")] = STARGAN_MODEL,
    classifier: Annotated[Path, typer.Option(help="estimates each photo's own attributes")] = CLASSIFIER,
    device: Device = "auto",
    overwrite: Overwrite = False,
) -> None:
    """Edit face attributes with StarGAN. Each photo's centred square is resized to the
    model's size, as training prepared CelebA, and the edit is written at that size (the
    sample's model: 32x32 px; the paper's: 128x128), not the photo's. Unreadable photos are
    reported and skipped."""
    if (attrs is None) == (not all_attrs):
        raise UserError("give exactly one of --attrs A,B=0 and --all")
    photos = image_paths(source)
    targets = {"grid": output_paths(out, ["grid.png"])[0]} if all_attrs else photo_targets(photos, out)
    outputs = {key: [path] for key, path in targets.items()}
    todo, kept = still_to_write(outputs, overwrite, out)
    if not _kept(kept, todo):
        return

    from facegan.machine import pick_device
    from facegan.stargan.inference import (apply_changes, apply_edit, estimate_labels, load_judge, load_stargan,
                                           parse_changes, read_photos)
    from facegan.stargan.model import edit_grid

    with reporting_interrupts(outputs):
        torch_device = pick_device(device)
        trained = load_stargan(model, torch_device, pipeline=model == STARGAN_MODEL)
        G, attributes, size = trained.network, trained.config["attributes"], trained.config["image_size"]
        changes = parse_changes(attrs, attributes) if attrs is not None else None
        judge = load_judge(classifier, attributes, torch_device, pipeline=classifier == CLASSIFIER)
        paths, images = read_photos(photos if all_attrs else todo, size, lambda line: typer.echo(line, err=True))
        c_org = estimate_labels(judge, images)
        if all_attrs:
            save_image(edit_grid(G, images, c_org, attributes), targets["grid"], min_side=256)
            typer.echo(f"wrote {targets['grid']}: {len(paths)} photo(s) x (input + {', '.join(attributes)})")
            return
        edited = apply_edit(G, images, apply_changes(c_org, changes, attributes), torch_device)
        for path, image in zip(paths, edited):
            save_image(image, targets[path])
    typer.echo(f"wrote {len(edited)} edited photo(s) of {size}x{size} px (the model's size) to {out}")


@commands.command("degrade")
def degrade_command(
    source: Annotated[Path, typer.Argument(exists=True, help="a face photo, or a folder of them")],
    out: Annotated[str, typer.Argument(help=f"one degraded image per photo; {OUT_RULE}")],
    kind: Annotated[str, typer.Option("--type", help=f"one of {', '.join(DEGRADATIONS)}")] = "full",
    seed: Annotated[int, typer.Option(help="with each file's name, seeds its degradation")] = 0,
    size: Annotated[int, typer.Option(help="side the photos are resized to first (the training size)")] = 512,
    clean: Annotated[Optional[str], typer.Option(help="also write the resized clean photos here (the same rule)")] = None,
    scale_ranges: Annotated[bool, typer.Option(
        help="scale the blur's pixel ranges (given for 512 px faces) by --size / 512, as "
             "hifacegan.data.scale_ranges does")] = True,
    workers: Annotated[int, typer.Option(help="processes")] = 2,
    overwrite: Overwrite = False,
) -> None:
    """Degrade face photos as the degrade stage makes HiFaceGAN's training pairs: the centred
    square resized to --size (Lanczos), then the imgaug degradation seeded by --seed and the
    file name, so a file gives the same bytes as its pair in the stage. Unreadable photos
    are reported and skipped."""
    if kind not in DEGRADATIONS:
        raise UserError(f"--type {kind!r}: must be one of {', '.join(DEGRADATIONS)}")
    if size < 8:
        raise UserError(f"--size {size}: must be at least 8 pixels")
    photos = image_paths(source)
    targets = photo_targets(photos, out, "OUT")
    clean_targets = photo_targets(photos, clean, "--clean") if clean else {}
    outputs = {path: [targets[path], *([clean_targets[path]] if clean else [])] for path in photos}
    todo, kept = still_to_write(outputs, overwrite, out)
    if not _kept(kept, todo):
        return

    from facegan.hifacegan.data import Degrader, degrade_files

    unreadable = 0
    with reporting_interrupts(outputs):
        for path, pair, reason in degrade_files(todo, Degrader(kind, size, seed, scale_ranges), workers):
            if pair is None:
                typer.echo(f"skipped {path}: {reason}", err=True)
                unreadable += 1
                continue
            save_image(pair[0], targets[path])
            if clean_targets:
                save_image(pair[1], clean_targets[path])
    if unreadable == len(photos):
        raise UserError(f"no readable photo in {source}")
    typer.echo(f"wrote {len(todo) - unreadable} '{kind}' degraded photo(s) at {size} px to {out}")


@commands.command("restore")
def restore_command(
    source: Annotated[Path, typer.Argument(exists=True, help="a face photo, or a folder of them")],
    out: Annotated[str, typer.Option(help=f"one restored image per photo; {OUT_RULE}")],
    model: Annotated[Path, typer.Option(help="train_hifacegan's model.pt or an exported generator.pt2")] = (
        HIFACEGAN_MODEL),
    device: Device = "auto",
    overwrite: Overwrite = False,
) -> None:
    """Restore degraded face photos with HiFaceGAN. Each photo is resized to the model's size,
    restored and resized back to its own size (no tiling); unreadable photos are reported and
    skipped, the others restored."""
    photos = image_paths(source)
    targets = photo_targets(photos, out)
    outputs = {path: [targets[path]] for path in photos}
    todo, kept = still_to_write(outputs, overwrite, out)
    if not _kept(kept, todo):
        return

    from facegan.hifacegan.inference import load_hifacegan, restore_photo
    from facegan.machine import pick_device
    from facegan.progress import progress

    unreadable, written = 0, Counter()
    with reporting_interrupts(outputs):
        trained = load_hifacegan(model, pick_device(device), pipeline=model == HIFACEGAN_MODEL)
        G, size = trained.network, trained.config["image_size"]
        for path in progress(todo, desc="restore"):
            try:
                image = read_image(path)
            except ImageFolderError as error:
                typer.echo(f"skipped: {error}", err=True)
                unreadable += 1
                continue
            restored = restore_photo(G, image, size)
            save_image(restored, targets[path])
            written[f"{restored.shape[1]}x{restored.shape[0]}"] += 1
    if unreadable == len(photos):
        raise UserError(f"no readable photo in {source}")
    sizes = ", ".join(f"{count} at {shape}" for shape, count in written.most_common())
    typer.echo(f"restored {len(todo) - unreadable} photo(s) into {out}"
               + (f" at their own sizes ({sizes} px), each through the model's {size} px" if written else ""))
