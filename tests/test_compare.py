"""`facegan compare` and `facegan spread` on a `dvc exp show --json` made here: which runs
count, how they group, what is called noise, and the 120-column table."""
import json
import math

import numpy as np
import pytest

from facegan.compare import compare, one_run_spread, render
from facegan.errors import UserError
from facegan.experiments import commit_of, model_draws, runs_table, settings
from facegan.spread import Summary, seed_spread_record


def _data(lr, seeds, metrics, eval_seed=123):
    pgan_seed, stargan_seed = seeds
    params = {"lr": lr, "pgan": {"train": {"seed": pgan_seed, "betas": [0.0, 0.99]}},
              "stargan": {"train": {"seed": stargan_seed}}, "eval": {"pgan": {"seed": eval_seed}}}
    files = {f"metrics/{model}.json": {"data": values} for model, values in metrics.items()}
    files["data/pgan/4/curves/metrics.json"] = {"data": {"step": 400, "loss_d": -0.5}}  # a train stage's progress
    return {"params": {"params.yaml": {"data": params}}, "metrics": files}


def _run(name, lr, seeds, swd, psnr, state="success", **kwargs):
    metrics = {"pgan": {"swd": {"avg": swd}, "fid": None}, "stargan": {"self_reconstruction_psnr": psnr}}
    revision = {"rev": f"{abs(hash(name)):040x}"[:40], "name": name, "data": _data(lr, seeds, metrics, **kwargs)}
    return {"name": name, "executor": None if state == "success" else {"state": state}, "revs": [revision]}


def exp_show(experiments, baseline_swd=40.0):
    baseline = {"rev": "b" * 40, "name": "main", "data": _data(0.002, (0, 0), {
        "pgan": {"swd": {"avg": baseline_swd}, "fid": None}, "stargan": {"self_reconstruction_psnr": 22.5}}),
                "experiments": experiments}
    return [{"rev": "workspace", "name": None, "data": baseline["data"]}, baseline]


def test_runs_are_the_baseline_and_finished_experiments_only():
    table = runs_table(exp_show([_run("ok", 0.003, (1, 0), 38.0, 22.5),
                                 _run("failed", 0.003, (2, 0), 30.0, 22.5, state="failed"),
                                 _run("queued", 0.003, (3, 0), 30.0, 22.5, state="queued")]))
    assert list(table["name"]) == ["main", "ok"] and list(table["baseline"]) == [True, False]
    assert table["param:pgan.train.betas"].iloc[0] == "[0.0, 0.99]"  # lists stay groupable
    assert np.isnan(table["metric:pgan.fid"]).all()
    assert {column for column in table if column.startswith("metric:")} == {
        "metric:pgan.swd.avg", "metric:pgan.fid", "metric:stargan.self_reconstruction_psnr"}  # no curves


def test_settings_ignore_training_seeds_but_not_the_evaluation_seed():
    table = runs_table(exp_show([_run("s1", 0.002, (1, 1), 41.0, 22.0), _run("a", 0.003, (0, 0), 37.0, 22.5),
                                 _run("e", 0.002, (0, 0), 40.5, 22.5, eval_seed=1000)]))
    groups = settings(table)
    assert [list(g.runs["name"]) for g in groups] == [["main", "s1"], ["a"], ["e"]]
    assert groups[0].is_baseline and groups[1].params == {"lr": 0.003, "eval.pgan.seed": 123}
    shown = json.dumps(compare(table, None))
    assert json.loads(shown)["settings"][2]["params"] == {"lr": 0.002, "eval.pgan.seed": 1000}
    text = render(compare(table, None))
    assert "eval.pgan.seed=1000" in text and "1000.0" not in text  # an int stays an int beside a float


def test_a_run_that_reused_a_model_counts_once_for_it():
    table = runs_table(exp_show([_run("stargan-only", 0.002, (0, 5), 40.0, 21.0)]))
    assert len(model_draws(table, "pgan")) == 1 and len(model_draws(table, "stargan")) == 2


def _sweep(lr, swds, first_seed=1):
    return [_run(f"{lr}-{i}", lr, (first_seed + i, 0), swd, 22.5) for i, swd in enumerate(swds)]


def test_verdicts_real_within_noise_and_none_for_one_run():
    spread = {"metrics": {"pgan": {"swd.avg": {"training": {"std": 1.5}, "evaluation": {"n": 4, "std": 2.0}}}}}
    clear = compare(runs_table(exp_show(_sweep(0.002, [41.0, 39.5]) + _sweep(0.003, [20.0, 21.0, 20.5]))), spread)
    [_, other] = clear["metrics"]["pgan.swd.avg"]
    assert other["within_noise"] is False and other["ci_high"] < 0 and other["n"] == 3
    assert clear["unchanged"] == ["stargan.self_reconstruction_psnr"] and clear["missing"] == ["pgan.fid"]
    noisy = compare(runs_table(exp_show(_sweep(0.002, [44.0, 36.0]) + _sweep(0.003, [37.0, 43.0]))), spread)
    assert noisy["metrics"]["pgan.swd.avg"][1]["within_noise"] is True
    single = compare(runs_table(exp_show(_sweep(0.003, [37.0]))), spread)
    baseline, one = single["metrics"]["pgan.swd.avg"]
    assert baseline["n"] == one["n"] == 1 and one["within_noise"] is None
    assert one["one_run_std"] == pytest.approx(2.5) and one["one_run_std_from"].startswith("training and evaluation")
    text = render(single)
    assert "no verdict" in text and "one-run std 2.5" in text and "REAL" not in text.split("REAL:")[0]
    assert "sqrt(training^2 + evaluation^2)" in " ".join(text.split())  # the note says how, wrapped


@pytest.mark.parametrize("evaluation, std, source", [
    (None, 1.5, "training seeds (the evaluation's spread is not measured)"),
    ({"n": 0, "std": 0.0}, 1.5, "training seeds (the evaluation takes no seed)"),
    ({"n": 4, "std": 3.3}, math.sqrt(1.5 ** 2 + 3.3 ** 2), "training and evaluation seeds"),
])  # fmt: skip
def test_one_run_spread_combines_the_seeds_that_apply(evaluation, std, source):
    spread = {"metrics": {"pgan": {"swd.16": {"training": {"std": 1.5}, "evaluation": evaluation}}}}
    value, said = one_run_spread(spread, "pgan.swd.16")
    assert value == pytest.approx(std) and said.startswith(source)
    assert one_run_spread(spread, "pgan.swd.32") == (None, "not measured (make spread)")


def test_only_the_models_asked_for():
    table = runs_table(exp_show(_sweep(0.003, [37.0, 38.0])))
    assert list(compare(table, None, ["stargan"])["metrics"]) == []  # its one metric is unchanged
    assert list(compare(table, None, ["pgan"])["metrics"]) == ["pgan.swd.avg"]
    with pytest.raises(UserError, match="--model takes any of pgan, stargan"):
        compare(table, None, ["gan"])


def test_the_table_fits_120_columns_with_many_settings_and_long_params():
    experiments = [_run(f"x{i}-{s}", 0.001 * (i + 1), (s, s), 40.0 - i + s, 22.5 + 0.01 * s) for i in range(8)
                   for s in (1, 2)] + [_run("one", 0.1, (1, 1), 40.123456, 22.123456)]
    text = render(compare(runs_table(exp_show(experiments)), None))
    assert max(map(len, text.splitlines())) <= 120, text
    assert "mean ± std (n)" in text and "Welch" in text and "stargan.self_reconstruction_psnr  " in text


def test_a_baseline_is_a_commit_or_a_one_line_error():
    assert len(commit_of(None)) == 40
    with pytest.raises(UserError, match="no-such-rev names no commit here"):
        commit_of("no-such-rev")


def test_no_finished_run_says_how_to_make_some():
    with pytest.raises(UserError, match="dvc exp run --queue"):
        runs_table([{"rev": "workspace", "data": {}}, {"rev": "b" * 40, "data": {}, "experiments": None}])


def test_spread_record_separates_training_and_evaluation_seeds():
    experiments = _sweep(0.002, [42.0, 37.0, 41.0, 39.0]) + [
        _run(f"eval{seed}", 0.002, (0, 0), 40.0 + d, 22.5, eval_seed=seed) for seed, d in ((1000, 0.3), (2000, -0.2))]
    record = seed_spread_record(runs_table(exp_show(experiments)), {"cpu": "test"}, "b" * 40)
    swd = record["metrics"]["pgan"]["swd.avg"]
    assert swd["training"]["n"] == 5 and swd["training"]["values"] == [40.0, 42.0, 37.0, 41.0, 39.0]
    assert swd["training"]["std"] == pytest.approx(Summary.of([40, 42, 37, 41, 39]).std)
    assert swd["evaluation"]["n"] == 3 and swd["evaluation"]["std"] == pytest.approx(Summary.of([40, 40.3, 39.8]).std)
    assert swd["dominant"] == "training seed"
    assert record["training_seeds"]["pgan"] == [0, 1, 2, 3, 4]
    assert "stargan" not in record["metrics"]  # one distinct StarGAN: no spread to speak of
    json.dumps(record)  # what `facegan spread` writes
