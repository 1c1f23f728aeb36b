"""params.yaml validation: bad values fail before any work, naming key, value and what is allowed."""
import pytest
import yaml

from conftest import REPO, tiny_params_dict, write_params
from facegan.params import ParamsError, fingerprint, load_params


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
        (lambda p: p.update(lr=-1), "lr = -1.0: must be >= 0.0"),
        (lambda p: p.update(lr="fast"), "lr = 'fast': must be float"),
        (lambda p: p["pgan"]["train"].update(sedd=3), "pgan.train.sedd: unknown key"),
        (lambda p: p["pgan"]["train"].pop("seed"), "pgan.train.seed: missing"),
        (lambda p: p["pgan"]["train"].update(mirror="yes"), "pgan.train.mirror = 'yes': must be bool"),
        (lambda p: p["pgan"]["scales"]["8"].update(batch=0), "pgan.scales.8.batch = 0: must be >= 1"),
        (lambda p: p["pgan"]["scales"]["8"].update(batch=2.5), "pgan.scales.8.batch = 2.5: must be int"),
        (lambda p: p["pgan"]["scales"]["8"].update(prev="init"), "pgan.scales.8.prev = 'init': must be '4'"),
        (lambda p: p["pgan"]["scales"]["8"].update(fade_iterations=99), "must be <= iterations (20)"),
        (lambda p: p["data"]["celeba"].update(source="ftp"), "data.celeba.source = 'ftp': must be one of sample"),
        (lambda p: p["data"]["celeba"].update(resolution=24), "data.celeba.resolution = 24: must be a power of two"),
        (lambda p: p["data"]["celeba"].update(resolution=16),
         "pgan.scales ends at 8 px but data.celeba.resolution = 16"),
        (lambda p: p["pgan"]["model"].update(channels=[8]), "needs one entry per scale"),
        (lambda p: p["pgan"]["scales"].update({"32": p["pgan"]["scales"]["8"]}), "scales must be 4, 8, 16"),
    ],
)
def test_bad_values_are_rejected_with_key_value_and_rule(tmp_path, change, expected):
    assert expected in _error(tmp_path, change)


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
