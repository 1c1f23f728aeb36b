"""Checkpoints: plain tensors (weights_only loads), atomic writes, every random state."""
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from facegan.checkpoint import (
    CheckpointError,
    load_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)


def test_round_trip_with_rng_states_loads_weights_only(tmp_path):
    generator = torch.Generator().manual_seed(5)
    state = {"weights": torch.arange(4.0), "iteration": 7, "rng": rng_states(generator)}
    save_checkpoint(tmp_path / "c.pt", state)
    loaded = torch.load(tmp_path / "c.pt", weights_only=True)
    assert loaded["iteration"] == 7 and torch.equal(loaded["weights"], state["weights"])

    expected = (torch.rand(3, generator=generator), torch.rand(3), np.random.rand(3), random.random())
    other = torch.Generator().manual_seed(99)
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    restore_rng_states(loaded["rng"], other)
    actual = (torch.rand(3, generator=other), torch.rand(3), np.random.rand(3), random.random())
    torch.testing.assert_close(actual[0], expected[0])
    torch.testing.assert_close(actual[1], expected[1])
    assert np.array_equal(actual[2], expected[2]) and actual[3] == expected[3]


def test_damaged_and_missing_checkpoints_say_what_to_do(tmp_path):
    save_checkpoint(tmp_path / "c.pt", {"x": torch.ones(1000)})
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "c.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="delete it and run the stage that writes it again"):
        load_checkpoint(tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="not found: run the stage that writes it first"):
        load_checkpoint(tmp_path / "absent.pt")


def test_a_users_own_damaged_file_is_described_in_one_sentence_of_torch(tmp_path):
    """No advice to delete a file of the user's, and of torch's paragraph (miniz's advice to
    its own developers) only the first sentence."""
    save_checkpoint(tmp_path / "mine.pt", {"x": torch.ones(1000)})
    (tmp_path / "mine.pt").write_bytes((tmp_path / "mine.pt").read_bytes()[:1000])  # a copy cut short
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(tmp_path / "mine.pt", writer=None)
    message = str(raised.value)
    assert message.endswith("the file is damaged or is not a facegan checkpoint") and "delete" not in message
    assert "failed finding central directory." in message and "miniz" not in message
    with pytest.raises(CheckpointError, match=r"^\S+absent.pt not found$"):
        load_checkpoint(tmp_path / "absent.pt", writer=None)


def test_a_default_path_outside_the_project_says_where_to_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match=f"{tmp_path} is not the project folder .it has no dvc.yaml."):
        load_checkpoint(Path("data/stargan/model.pt"), "`dvc repro train_stargan`")
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    with pytest.raises(CheckpointError, match="not found: run `dvc repro train_stargan` first"):
        load_checkpoint(Path("data/stargan/model.pt"), "`dvc repro train_stargan`")


def test_failed_write_leaves_the_old_checkpoint(tmp_path):
    save_checkpoint(tmp_path / "c.pt", {"version": 1})

    class Unpicklable:
        pass

    with pytest.raises(Exception):
        save_checkpoint(tmp_path / "c.pt", {"version": 2, "bad": Unpicklable()})
    assert load_checkpoint(tmp_path / "c.pt") == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary left behind
