"""`facegan generate`: faces, grids and latent walks from PGAN's averaged generator, from a
model.pt or the export; the same seed gives the same faces; a damaged model file is a
one-line error."""
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from conftest import interrupt_and_rerun, tiny_params_dict, write_params
from facegan.checkpoint import save_checkpoint
from facegan.cli import app
from facegan.export import export_generator
from facegan.params_file import load_params
from facegan.pgan.inference import export_spec, generate, interpolations, load_pgan, slerp
from facegan.pgan.train import grow_networks, init_networks


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """An 8 px averaged generator as a scale's model.pt, and its export."""
    folder = tmp_path_factory.mktemp("pgan")
    pgan = load_params(write_params(folder / "params.yaml", tiny_params_dict(8))).pgan
    G, _, G_ema = grow_networks(pgan, init_networks(pgan, {"test": "inputs"}), 2)
    save_checkpoint(folder / "model.pt", {"config": {"latent_dim": G.latent_dim, "channels": G.channels, "depth": 2},
                                          "G_ema": G_ema.state_dict(), "iteration": 7, "fingerprint": "test"})
    export_generator(export_spec(load_pgan(folder / "model.pt", "cpu"), "test"), folder / "export")
    return folder


def _generate(*args) -> object:
    return CliRunner().invoke(app, ["generate", *map(str, args), "--device", "cpu"], env={"COLUMNS": "1000"})


def _pngs(folder) -> dict[str, np.ndarray]:
    return {path.name: np.asarray(Image.open(path)) for path in sorted(folder.glob("*.png"))}


def test_one_png_per_face_and_the_same_faces_for_the_same_seed(model, tmp_path):
    for out in ("a", "b"):
        result = _generate("--n", 5, "--seed", 3, "--out", f"{tmp_path / out}/", "--model", model / "model.pt")
        assert result.exit_code == 0, result.output
    a, b = _pngs(tmp_path / "a"), _pngs(tmp_path / "b")
    assert list(a) == [f"face{i:05d}.png" for i in range(5)]
    assert all(face.shape == (8, 8, 3) for face in a.values())
    assert all(np.array_equal(a[name], b[name]) for name in a)
    assert len({face.tobytes() for face in a.values()}) == 5, "every face drawn from its own latent"
    _generate("--n", 5, "--seed", 4, "--out", f"{tmp_path / 'c'}/", "--model", model / "model.pt")
    assert not np.array_equal(_pngs(tmp_path / "c")["face00000.png"], a["face00000.png"])


def test_the_export_draws_the_faces_of_the_checkpoint(model):
    from_checkpoint = generate(load_pgan(model / "model.pt", "cpu"), 6, seed=1)
    from_export = generate(load_pgan(model / "export" / "generator.pt2", "cpu"), 6, seed=1)
    assert from_export.shape == from_checkpoint.shape == (6, 8, 8, 3)
    assert np.abs(from_export.astype(int) - from_checkpoint).max() <= 1  # rounding of the exported graph


def test_a_new_interpreter_draws_the_same_faces(model, tmp_path):
    """Latents come from torch's CPU generator seeded by --seed: nothing of this process leaks in."""
    torch.manual_seed(123)  # this process's global random state must not matter
    here = generate(load_pgan(model / "model.pt", "cpu"), 3, seed=5)
    code = ("import sys, numpy as np; from facegan.pgan.inference import generate, load_pgan; "
            "np.save(sys.argv[2], generate(load_pgan(sys.argv[1], 'cpu'), 3, seed=5))")
    subprocess.run([sys.executable, "-c", code, str(model / "model.pt"), str(tmp_path / "faces.npy")], check=True)
    assert np.array_equal(np.load(tmp_path / "faces.npy"), here)


def test_grid_and_interpolation_rows_and_gif(model, tmp_path):
    result = _generate("--n", 5, "--grid", tmp_path / "grid.png", "--model", model / "export" / "generator.pt2")
    assert result.exit_code == 0, result.output
    grid = Image.open(tmp_path / "grid.png")
    assert min(grid.size) >= 256  # enlarged for a person to look at

    result = _generate("--n", 2, "--interpolate", 4, "--seed", 9, "--out", f"{tmp_path / 'walk'}/",
                       "--grid", tmp_path / "walk.png", "--gif", tmp_path / "walk.gif", "--model", model / "model.pt")
    assert result.exit_code == 0, result.output
    frames = _pngs(tmp_path / "walk")
    assert list(frames) == [f"row{r:03d}_step{s:02d}.png" for r in range(2) for s in range(4)]
    walk = Image.open(tmp_path / "walk.png")
    assert walk.width > 1.5 * walk.height  # 2 rows of 4 faces
    gif = Image.open(tmp_path / "walk.gif")
    assert gif.n_frames == 6  # 4 steps there, 2 back (the loop has no jump)

    # The ends of each row are the faces of the two random latents themselves.
    trained = load_pgan(model / "model.pt", "cpu")
    rows = interpolations(trained, 2, 4, seed=9)
    ends = torch.randn(2, 2, trained.config["latent_dim"], generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        faces = trained.network(ends.flatten(0, 1))
    expected = (faces * 127.5 + 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert np.abs(rows[:, [0, -1]].reshape(4, 8, 8, 3).astype(int) - expected).max() <= 1
    assert np.array_equal(rows[0, 1], frames["row000_step01.png"])


def test_slerp_follows_the_great_circle():
    a, b = torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[0.0, 2.0, 0.0]])
    t = torch.tensor([[0.0], [0.5], [1.0]])
    path = slerp(a, b, t)
    torch.testing.assert_close(path[0], a[0])
    torch.testing.assert_close(path[2], b[0])
    # halfway along the arc of angle 90 degrees: sin(45)/sin(90) of each end
    torch.testing.assert_close(path[1], (a[0] + b[0]) * np.sin(np.pi / 4))
    parallel = slerp(a, 3 * a, t)  # no arc between parallel ends: a straight line
    torch.testing.assert_close(parallel[1], 2 * a[0])


def test_a_damaged_model_file_is_a_clear_error(model, tmp_path):
    """A user's own --model file is described, never to be deleted or retrained."""
    for name in ("model.pt", "generator.pt2"):
        damaged = tmp_path / name
        damaged.write_bytes((model / "model.pt").read_bytes()[:200])
        result = _generate("--n", 2, "--grid", tmp_path / "x.png", "--model", damaged)
        assert result.exit_code != 0 and not (tmp_path / "x.png").exists()
        message = str(result.exception)
        assert str(damaged) in message and "cannot be read" in message
        assert "delete" not in message and "dvc repro" not in message
    missing = _generate("--n", 2, "--grid", tmp_path / "x.png", "--model", tmp_path / "none.pt")
    assert str(missing.exception) == f"{tmp_path / 'none.pt'} not found"
    # An export of an earlier version (TorchScript, torch.jit being deprecated) is refused with the command
    # that writes its successor, whatever it holds.
    (tmp_path / "generator.ts").write_bytes(b"an old TorchScript archive")
    old = _generate("--n", 2, "--grid", tmp_path / "x.png", "--model", tmp_path / "generator.ts")
    assert "TorchScript" in str(old.exception) and "dvc repro export_pgan" in str(old.exception)


def test_an_export_carries_its_record_and_needs_no_file_beside_it(model, tmp_path):
    copied = tmp_path / "my_faces.pt2"
    copied.write_bytes((model / "export" / "generator.pt2").read_bytes())
    result = _generate("--n", 2, "--grid", tmp_path / "x.png", "--model", copied)
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "my_faces.json").exists() and (tmp_path / "x.png").exists()


def test_nothing_to_write_and_a_gif_without_a_walk_are_refused(model, tmp_path):
    assert "nothing to write" in str(_generate("--model", model / "model.pt").exception)
    no_walk = _generate("--gif", tmp_path / "a.gif", "--model", model / "model.pt")
    assert "--interpolate" in str(no_walk.exception) and not (tmp_path / "a.gif").exists()


def test_out_follows_the_one_rule(model, tmp_path):
    """A trailing / or an existing folder: into it; else the one file (several: an error, nothing written)."""
    assert _generate("--n", 1, "--out", tmp_path / "one.png", "--model", model / "model.pt").exit_code == 0
    assert Image.open(tmp_path / "one.png").size == (8, 8)
    refused = _generate("--n", 3, "--out", tmp_path / "faces", "--model", model / "model.pt")
    assert "is a file path, but there are 3 images" in str(refused.exception) and "end it with /" in str(
        refused.exception)
    assert not (tmp_path / "faces").exists()
    (tmp_path / "existing").mkdir()
    result = _generate("--n", 2, "--out", tmp_path / "existing", "--grid", tmp_path / "existing",
                       "--model", model / "model.pt")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "existing").iterdir()) == ["face00000.png", "face00001.png", "grid.png"]


def test_generate_interrupted_keeps_complete_files_and_a_rerun_finishes(model, tmp_path):
    """Ctrl-C while the faces are written; the rerun writes the rest, the faces a straight run draws."""
    out = tmp_path / "faces"
    interrupt_and_rerun(["generate", "--n", 3000, "--out", f"{out}/", "--model", model / "model.pt",
                         "--device", "cpu"], out, 3000)
    assert _generate("--n", 3000, "--out", f"{tmp_path / 'straight'}/", "--model", model / "model.pt").exit_code == 0
    for name in ("face00000.png", "face02999.png"):
        assert (out / name).read_bytes() == (tmp_path / "straight" / name).read_bytes()
