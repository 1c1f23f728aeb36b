"""params.yaml validation: bad values fail before any work, naming key, value and what is allowed."""
import dataclasses
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, tiny_params_dict, write_params
from facegan.data.celeba import CROPS
from facegan.data.celeba_params import CelebAParams
from facegan.data.ffhq import FFHQ_SOURCES
from facegan.data.ffhq_params import FFHQParams
from facegan.data.sources import CELEBA_SOURCES
from facegan.hifacegan.data import DEGRADATIONS
from facegan.hifacegan.params import HiFaceGANData
from facegan.params import ParamsError, fingerprint, read_yaml
from facegan.params_file import load_params


def test_shipped_params_and_preset_are_valid():
    params = load_params(REPO / "params.yaml")
    assert params.pgan.resolution == params.data.celeba.resolution == 32
    assert list(params.pgan.scales) == ["4", "8", "16", "32"]
    preset = load_params(REPO / "configs" / "celeba128-paper.yaml")
    assert preset.pgan.resolution == 128 and preset.pgan.model.channels == [512, 512, 512, 512, 256, 128]


def _error(tmp_path, change) -> str:
    params = tiny_params_dict()
    change(params)
    with pytest.raises(ParamsError) as raised:
        load_params(write_params(tmp_path / "params.yaml", params))
    return str(raised.value)


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda p: p.update(lr=-1), "lr = -1.0: must be > 0"),
        (lambda p: p.update(lr=0), "lr = 0.0: must be > 0"),
        (lambda p: p["stargan"]["train"].update(g_lr=0.0), "stargan.train.g_lr = 0.0: must be > 0"),
        (lambda p: p["hifacegan"]["train"].update(d_lr=float("nan")), "hifacegan.train.d_lr = nan: must be a finite"),
        (lambda p: p["pgan"]["train"].update(gp_weight=float("inf")), "pgan.train.gp_weight = inf: must be a finite"),
        (lambda p: p["pgan"]["train"].update(betas=[0.0, float("-inf")]), "pgan.train.betas[1] = -inf: must be a fin"),
        (lambda p: p["eval"]["pgan"].update(batch=".nan"), "eval.pgan.batch = '.nan': must be int"),
        (lambda p: p.update(lr="fast"), "lr = 'fast': must be float"),
        (lambda p: p["pgan"]["train"].update(sedd=3), "pgan.train.sedd: unknown key"),
        (lambda p: p["pgan"]["train"].pop("seed"), "pgan.train.seed: missing"),
        (lambda p: p["pgan"]["train"].update(mirror="yes"), "pgan.train.mirror = 'yes': must be bool"),
        (lambda p: p["stargan"]["data"].update(attributes=["Male", "Male"]), "must be one or more distinct names"),
        (lambda p: p["stargan"]["data"].update(attributes=[]), "stargan.data.attributes = []: must be one or more"),
        (lambda p: p["pgan"]["scales"]["8"].update(batch=0), "pgan.scales.8.batch = 0: must be >= 1"),
        (lambda p: p["pgan"]["scales"]["8"].update(batch=2.5), "pgan.scales.8.batch = 2.5: must be int"),
        (lambda p: p["pgan"]["scales"]["8"].update(prev="init"), "pgan.scales.8.prev = 'init': must be '4'"),
        (lambda p: p["pgan"]["scales"]["8"].update(fade_iterations=99), "must be <= iterations (20)"),
        (lambda p: p["data"]["celeba"].update(source="ftp"), "data.celeba.source = 'ftp': must be one of sample"),
        (lambda p: p["data"]["celeba"].update(crop="square"),
         "data.celeba.crop = 'square': must be one of celeba_box, center_square"),
        (lambda p: p["data"]["celeba"].update(source="folder"),
         "data.celeba.source = 'folder' with data.celeba.folder empty: set it to the folder of your photos"),
        (lambda p: p["data"]["celeba"].update(resolution=24), "data.celeba.resolution = 24: must be a power of two"),
        (lambda p: p["data"]["celeba"].update(resolution=16),
         "pgan.scales ends at 8 px but data.celeba.resolution = 16"),
        (lambda p: p["pgan"]["model"].update(channels=[8]), "needs one entry per scale"),
        (lambda p: p["pgan"]["scales"].update({"32": p["pgan"]["scales"]["8"]}), "scales must be 4, 8, 16"),
    ],
)
def test_bad_values_are_rejected_with_key_value_and_rule(tmp_path, change, expected):
    assert expected in _error(tmp_path, change)


def _own_folder(p, attributes_file="", attributes=("Smiling", "Glasses")) -> None:
    p["data"]["celeba"].update(source="folder", folder="photos", attributes_file=attributes_file)
    p["stargan"]["data"]["attributes"] = list(attributes)


def test_a_folder_of_photos_names_its_own_attributes(tmp_path):
    """With a folder and a CSV, StarGAN's attributes are the CSV's columns (checked when it is read);
    with CelebA's format, or no CSV, they are CelebA's names."""
    params = tiny_params_dict()
    _own_folder(params, attributes_file="labels.CSV")
    assert load_params(write_params(tmp_path / "params.yaml", params)).stargan.data.attributes == ["Smiling", "Glasses"]
    for attributes_file in ("", "list_attr_celeba.txt"):
        message = _error(tmp_path, lambda p: _own_folder(p, attributes_file))
        assert "stargan.data.attributes = 'Glasses': must be one of 5_o_Clock_Shadow, " in message, message
        assert "'Smiling'" not in message  # a CelebA attribute


def test_folder_settings_are_checked_together(tmp_path):
    def change(p):
        _own_folder(p, attributes_file="labels.xlsx", attributes=["Smiling"])
        p["data"]["celeba"]["folder"] = ""

    message = _error(tmp_path, change)
    assert "2 problems" in message, message
    assert "data.celeba.source = 'folder' with data.celeba.folder empty: set it to the folder of your photos" in message
    assert "data.celeba.attributes_file = 'labels.xlsx': must be a .csv (a file column, then one column" in message


def test_nan_written_in_yaml_is_rejected(tmp_path):
    text = yaml.safe_dump(tiny_params_dict()).replace("lr: 0.002", "lr: .nan")
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ParamsError, match=r"params\.yaml: lr = nan: must be a finite number$"):
        load_params(tmp_path / "params.yaml")


def test_a_key_written_twice_is_an_error_giving_both_lines(tmp_path):
    lines = yaml.safe_dump(tiny_params_dict(), sort_keys=False).splitlines()
    first = next(number for number, line in enumerate(lines, 1) if line.startswith("lr: "))
    lines.append("lr: 0.003")  # PyYAML alone keeps this one, silently
    (tmp_path / "params.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(ParamsError) as error:
        load_params(tmp_path / "params.yaml")
    assert str(error.value) == (f"{tmp_path / 'params.yaml'}: the key 'lr' is written twice, on lines {first} and "
                                f"{len(lines)}: keep one")
    # Nested too; the same key in two different mappings is no repetition.
    (tmp_path / "nested.yaml").write_text("a:\n  seed: 1\nb:\n  seed: 1\n  seed: 2\n")
    with pytest.raises(ParamsError, match="the key 'seed' is written twice, on lines 4 and 5"):
        read_yaml(tmp_path / "nested.yaml")
    (tmp_path / "nested.yaml").write_text("a:\n  seed: 1\nb:\n  seed: 2\n")
    assert read_yaml(tmp_path / "nested.yaml") == {"a": {"seed": 1}, "b": {"seed": 2}}


def test_the_old_train_block_is_an_error_naming_compute(tmp_path):
    """The compute settings were the top-level `train:` block; a file that still says so is
    told the new name, and the block's own problems come in the same message."""
    def change(p):
        p["train"] = {**p.pop("compute"), "nproc": 0}

    message = _error(tmp_path, change)
    assert "train: renamed compute (the same keys inside): rename the block to `compute:`" in message
    assert "compute.nproc = 0: must be >= 1" in message
    assert "unknown key" not in message and "missing" not in message


def test_every_problem_is_reported_at_once(tmp_path):
    def change(p):
        p.update(lr=0, typo=1)
        p["pgan"]["train"].update(mirror="yes")
        p["pgan"]["scales"]["8"].update(batch=0)
        p["stargan"]["train"].pop("seed")
        p["hifacegan"]["data"].update(degradation="rain")
        p["data"]["celeba"].update(crop="square")

    message = _error(tmp_path, change)
    assert message.startswith(f"{tmp_path / 'params.yaml'}: 7 problems:"), message
    for expected in ("lr = 0.0: must be > 0", "typo: unknown key", "pgan.train.mirror = 'yes': must be bool",
                     "pgan.scales.8.batch = 0: must be >= 1", "stargan.train.seed: missing; add it",
                     "hifacegan.data.degradation = 'rain': must be one of down, noise, blur, jpeg, full",
                     "data.celeba.crop = 'square': must be one of celeba_box, center_square"):
        assert f"\n  - {expected}" in message, message


def test_rules_between_values_are_reported_together(tmp_path):
    def change(p):
        p["pgan"]["scales"]["8"].update(prev="init", fade_iterations=99)
        p["stargan"]["train"].update(decay_start=10_000)
        p["stargan"]["data"]["attributes"][1] = "Blond"  # CelebA's names: the source's, a rule between values

    message = _error(tmp_path, change)
    assert "4 problems" in message and "pgan.scales.8.prev = 'init'" in message, message
    assert "fade_iterations = 99" in message and "stargan.train.decay_start = 10000" in message, message
    assert "stargan.data.attributes = 'Blond': must be one of 5_o_Clock_Shadow, Arched_Eyebrows" in message, message


def test_choices_are_the_library_constants():
    """One list of allowed values: the code that acts on the value."""
    def choices(cls, name):
        return next(f for f in dataclasses.fields(cls) if f.name == name).metadata["choices"]

    assert choices(CelebAParams, "source") is CELEBA_SOURCES
    assert choices(CelebAParams, "crop") is CROPS
    assert choices(FFHQParams, "source") is FFHQ_SOURCES
    assert choices(HiFaceGANData, "degradation") is DEGRADATIONS


def test_reading_params_does_not_import_torch():
    code = "import sys, facegan.params; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "absent.yaml")
    (tmp_path / "broken.yaml").write_text("lr: [1,\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(tmp_path / "broken.yaml")


def test_scientific_notation_reads_as_float(tmp_path):
    params = tiny_params_dict()
    text = yaml.safe_dump(params).replace("lr: 0.002", "lr: 3e-3")
    (tmp_path / "params.yaml").write_text(text)
    assert load_params(tmp_path / "params.yaml").lr == 0.003


def test_fingerprint_changes_with_any_value():
    params = load_params(REPO / "params.yaml")
    assert fingerprint(params.pgan) == fingerprint(load_params(REPO / "params.yaml").pgan)
    assert fingerprint(0.001, params.pgan) != fingerprint(0.003, params.pgan)
