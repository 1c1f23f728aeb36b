"""What a train stage reads, as dvc.yaml declares it, and the digests a working checkpoint
must match to be resumed (facegan.pipeline, facegan.training.inputs)."""
from pathlib import Path

import pytest
import torch

from conftest import REPO, tiny_params_dict, write_params
from facegan.checkpoint import save_checkpoint
from facegan.errors import UserError
from facegan.params_file import load_params
from facegan.pipeline import stages
from facegan.training import loop
from facegan.training.inputs import NOT_READ, changed_inputs, describe_change, stage_inputs

DVC_YAML = """stages:
  train_x:
    foreach: ${x.scales}
    do:
      cmd: python stages/train.py x ${key}
      deps:
        - stages/train.py
        - src/facegan/a.py
        - data/prepared
        - data/x/${item.prev}/model.pt
        - data/weights
      params:
        - lr
        - x.train
        - x.scales.${key}
        - compute
"""


def _project(root: Path) -> dict:
    """A checkout with one foreach train stage, its code and its data; its params."""
    for name, text in {"dvc.yaml": DVC_YAML, "stages/train.py": "print('x')\n", "src/facegan/a.py": "A = 1\n",
                       "data/prepared/images.npy": "pixels", "data/prepared/manifest.json": "{}",
                       "data/x/4/model.pt": "weights"}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return {"lr": 0.002, "x": {"train": {"seed": 0}, "scales": {"4": {"prev": "init"}, "8": {"prev": "4"}}},
            "compute": {"nproc": 1}}


def _inputs(root: Path, params: dict) -> dict:
    data = {"data/prepared": root / "data/prepared", "data/x/4/model.pt": root / "data/x/4/model.pt",
            "data/weights": None}
    return stage_inputs("train_x@8", params, data, root)


def test_foreach_stages_resolve_key_and_item_against_typed_params(tmp_path):
    params = load_params(write_params(tmp_path / "params.yaml", tiny_params_dict(16)))
    resolved = stages(params, REPO)
    assert resolved["train_pgan@4"].data == ("data/prepared/celeba", "data/pgan/init/model.pt")
    assert resolved["train_pgan@16"].data == ("data/prepared/celeba", "data/pgan/8/model.pt")
    assert "pgan.scales.16" in resolved["train_pgan@16"].params and "train_pgan@32" not in resolved
    assert resolved["export_pgan"].data == ("data/pgan/16/model.pt",)
    assert resolved["train_stargan"].script == ("stages/train.py", "stargan")
    assert "src/facegan/stargan/train.py" in resolved["train_stargan"].code


def test_every_input_kind_changes_its_own_digest_and_compute_none(tmp_path):
    params = _project(tmp_path)
    before = _inputs(tmp_path, params)
    assert set(before) == {"lr", "x.train", "x.scales.8", "stages/train.py", "src/facegan/a.py", "data/prepared",
                           "data/x/4/model.pt", "data/weights"}
    assert before["data/weights"] == NOT_READ

    changes = {
        "data/prepared": lambda: (tmp_path / "data/prepared/images.npy").write_text("other pixels"),
        "x.train": lambda: params["x"]["train"].update(seed=1),
        "x.scales.8": lambda: params["x"]["scales"]["8"].update(batch=4),
        "data/x/4/model.pt": lambda: (tmp_path / "data/x/4/model.pt").write_text("other weights"),
        "src/facegan/a.py": lambda: (tmp_path / "src/facegan/a.py").write_text("A = 2\n"),
        "stages/train.py": lambda: (tmp_path / "stages/train.py").write_text("print('y')\n"),
    }
    for name, change in changes.items():
        change()
        after = _inputs(tmp_path, params)
        assert changed_inputs(before, after) == [name]
        before = after
    params["compute"]["nproc"] = 2  # how a run computes, not what it learns
    (tmp_path / "data/x/8").mkdir(parents=True)  # another scale's outputs are no input
    (tmp_path / "data/x/8/model.pt").write_text("later")
    assert _inputs(tmp_path, params) == before


def test_the_command_must_give_every_declared_data_dep_and_each_must_exist(tmp_path):
    params = _project(tmp_path)
    with pytest.raises(ValueError, match=r"dvc.yaml declares the data deps .*'data/weights'.* the two must name"):
        stage_inputs("train_x@8", params, {"data/prepared": tmp_path / "data/prepared"}, tmp_path)
    (tmp_path / "data/x/4/model.pt").unlink()
    with pytest.raises(UserError, match=r"model.pt is missing: train_x@8 reads it .* \(dvc repro train_x@8\)"):
        _inputs(tmp_path, params)
    with pytest.raises(KeyError, match="has no stage 'train_y'"):
        stage_inputs("train_y", params, {}, tmp_path)


def test_the_change_names_fit_a_line():
    assert changed_inputs({"a": "1", "b": "2", "gone": "3"}, {"a": "1", "b": "9", "new": "4"}) == ["b", "new", "gone"]
    assert describe_change(["lr"]) == "lr"
    assert describe_change(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"


def _state(inputs: dict) -> loop.LoopState:
    return loop.LoopState(parts={"net": torch.nn.Linear(2, 2)}, rng=torch.Generator().manual_seed(0),
                          meta=loop.run_meta({"width": 2}, inputs))


def test_resume_only_from_the_same_inputs_and_say_which_changed(tmp_path, capsys):
    work = tmp_path / "work" / "checkpoint.pt"
    inputs = {"lr": "1", "data/prepared": "2", "src/facegan/a.py": "3"}
    finished = _state(inputs)
    finished.iteration = 100
    save_checkpoint(work, finished.snapshot())

    again = _state(dict(inputs))
    loop.resume(again, work, "x")
    assert again.iteration == 100 and "resuming x from iteration 100" in capsys.readouterr().err

    other = _state({**inputs, "data/prepared": "other"})
    loop.resume(other, work, "x")
    said = capsys.readouterr().err
    assert other.iteration == 0 and said == f"ignoring {work}: made from other data/prepared; training x afresh\n"

    save_checkpoint(work, {key: value for key, value in finished.snapshot().items() if key != "inputs"})
    old = _state(inputs)
    loop.resume(old, work, "x")
    assert old.iteration == 0 and "records no inputs (an older facegan made it)" in capsys.readouterr().err
