"""The paper smoke's params (`make paper-smoke`, CI's `make paper-smoke-light`): the overlays
lay over the preset without changing its architectures or (full form) batch sizes, cut
every training and evaluation size, and pass the params' validation; a misspelt overlay
key is an error. The runs themselves: `make paper-smoke-light` in .ci/run."""
import pytest
import yaml

from conftest import REPO
from facegan.data.ffhq import folder_range_ids
from facegan.errors import UserError
from facegan.params_file import load_params
from facegan.smoke import PRESET, overlaid, smoke_params


def _params(tmp_path, raw: dict):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_params(path)


def test_overlays_merge_key_by_key_and_refuse_unknown_keys():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 3}
    assert overlaid(base, {"a": {"c": [5]}}) == {"a": {"b": 1, "c": [5]}, "d": 3}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 3}  # the base is left as it was
    with pytest.raises(UserError, match="overlay keys not in the preset: a.typo"):
        overlaid(base, {"a": {"typo": 1}})
    with pytest.raises(UserError, match="overlay key d is a mapping"):
        overlaid(base, {"d": {"e": 1}})


@pytest.mark.parametrize("light", [False, True])
def test_the_smoke_keeps_the_presets_networks_and_cuts_the_work(tmp_path, light):
    preset = load_params(REPO / PRESET)
    smoke = _params(tmp_path, smoke_params(REPO, light))
    for model in ("pgan", "stargan", "hifacegan"):
        assert getattr(smoke, model).model == getattr(preset, model).model, model
    assert smoke.hifacegan.data.image_size == 512 and smoke.pgan.resolution == 128
    assert smoke.stargan.data.image_size == preset.stargan.data.image_size
    assert smoke.data.celeba.source == smoke.data.ffhq.source == "sample"
    batches = [scale.batch for scale in smoke.pgan.scales.values()]
    if light:
        assert batches == [1] * 6 and (smoke.stargan.train.batch, smoke.hifacegan.train.batch) == (2, 1)
        assert {s.iterations for s in smoke.pgan.scales.values()} == {1}
    else:
        assert batches == [scale.batch for scale in preset.pgan.scales.values()]
        assert (smoke.stargan.train.batch, smoke.hifacegan.train.batch) == (16, 2)
        assert max(s.iterations for s in smoke.pgan.scales.values()) <= 3
    assert smoke.stargan.train.iterations <= 6 and smoke.hifacegan.train.iterations <= 3
    # The sample writes sample_per_folder faces into each training folder (of 1000); some must be left to train on.
    ffhq = smoke.data.ffhq
    training_faces = ffhq.sample_per_folder * len(folder_range_ids(ffhq.train_folders)) // 1000
    assert 0 < smoke.hifacegan.train.validation_images < training_faces
    assert smoke.stargan.data.test_count < smoke.data.celeba.sample_count
    assert smoke.eval.pgan.num_images <= 64 and smoke.eval.pgan.ms_ssim_pairs <= 16
