"""Each stage loads only the params sections it reads (`params.Sections`), and dvc.yaml's
`params:` of the stage lie within them; the whole file is one pass of `facegan params check`."""
import importlib.util

import pytest
import yaml
from typer.testing import CliRunner

from facegan import pipeline
from facegan.params import LAYOUT, Sections
from facegan.params_file import EVERY_SECTION

EVERY_STAGE = pipeline.stages(yaml.safe_load((pipeline.ROOT / "params.yaml").read_text()))


class _Loaded(Exception):
    """Raised in place of loading: the command's sections are known, nothing else runs."""


def loaded_sections(name: str, monkeypatch) -> Sections:
    """The Sections the command of stage `name` loads, found by running it up to that load."""
    seen = []

    def record(self, path="params.yaml"):
        seen.append(self)
        raise _Loaded

    monkeypatch.setattr(Sections, "load", record)
    stage = EVERY_STAGE[name]
    script = pipeline.ROOT / stage.script[0]
    spec = importlib.util.spec_from_file_location(f"stage_script_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = CliRunner().invoke(module.app, stage.cmd.split()[2:])
    assert isinstance(result.exception, _Loaded), (name, result.output, result.exception)
    return seen[0]


@pytest.mark.parametrize("name", EVERY_STAGE)
def test_every_declared_param_is_in_a_section_the_stage_loads(name, monkeypatch):
    loaded = loaded_sections(name, monkeypatch).schemas
    outside = [key for key in EVERY_STAGE[name].params
               if not any(key == section or key.startswith(f"{section}.") for section in loaded)]
    assert not outside, f"{name} declares {outside} in dvc.yaml but loads only {list(loaded)}"


def test_model_stages_load_no_other_models_sections(monkeypatch):
    """What a model's stages load: its own sections and the shared ones, never another model's."""
    models = ("pgan", "stargan", "hifacegan")
    for name in EVERY_STAGE:
        owner = next((model for model in models if model in name), None)
        if owner is None or name == "download_weights":
            continue
        tops = {key.split(".")[-1] if key.startswith("eval.") else key.split(".")[0]
                for key in loaded_sections(name, monkeypatch).schemas}
        assert not tops & (set(models) - {owner}), (name, tops)


def test_the_whole_file_schema_has_exactly_the_layout():
    """LAYOUT (which every partial load checks names against) and the full schema agree."""
    keys = set(EVERY_SECTION.schemas)
    assert {key.split(".")[0] for key in keys} == set(LAYOUT)
    for group, names in LAYOUT.items():
        assert {key.split(".", 1)[1] for key in keys if key.startswith(f"{group}.")} == set(names)
