"""The seed-spread statistics against independent computations: the standard library's
stdev, scipy's Welch t-test, and a Monte-Carlo run of the prediction band."""
import math
import statistics

import numpy as np
import pytest
from scipy import stats

from facegan.spread import Summary, prediction_band, resolvable_difference, welch_difference


def test_summary_is_the_sample_mean_and_standard_deviation():
    values = [39.55, 44.83, 36.8, 41.2, 38.1]
    summary = Summary.of(values)
    assert summary.n == 5 and summary.min == 36.8 and summary.max == 44.83
    assert summary.mean == pytest.approx(statistics.fmean(values), abs=1e-12)
    assert summary.std == pytest.approx(statistics.stdev(values), abs=1e-12)
    assert Summary.of([3.0]).std == 0.0


@pytest.mark.parametrize("a, b", [([1.0, 2.0, 3.5], [2.5, 4.0, 4.5, 6.0]), ([10.0, 10.5], [9.0, 12.0, 11.0])])
def test_welch_interval_is_scipys(a, b):
    ours = welch_difference(Summary.of(a), Summary.of(b))
    reference = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert ours.delta == pytest.approx(np.mean(b) - np.mean(a))
    assert (ours.low, ours.high) == pytest.approx((reference.low, reference.high), rel=1e-9)


def test_within_noise_exactly_when_the_interval_holds_zero():
    noisy = welch_difference(Summary.of([39.0, 44.0, 36.0]), Summary.of([37.0, 41.0, 35.0]))
    clear = welch_difference(Summary.of([39.0, 40.0, 39.5]), Summary.of([20.0, 21.0, 20.5]))
    assert noisy.within_noise and noisy.low < 0 < noisy.high
    assert not clear.within_noise and clear.high < 0
    with pytest.raises(ValueError, match="at least 2 runs"):
        welch_difference(Summary.of([1.0]), Summary.of([1.0, 2.0]))


@pytest.mark.parametrize("n", [3, 5])
def test_resolvable_difference_is_where_the_interval_touches_zero(n):
    base = np.linspace(-1, 1, n)
    base = base / base.std(ddof=1)  # std exactly 1
    delta = resolvable_difference(1.0, n)
    edge = welch_difference(Summary.of(base), Summary.of(base + delta))
    assert edge.low == pytest.approx(0.0, abs=1e-9)
    assert resolvable_difference(2.0, 1) == pytest.approx(1.959964 * 2 * math.sqrt(2), rel=1e-6)


def test_prediction_band_covers_new_draws_as_often_as_it_says():
    rng = np.random.default_rng(0)
    trials, n, coverage = 8000, 5, 0.9
    draws = rng.normal(10.0, 3.0, size=(trials, n + 1))
    hits = 0
    for row in draws:
        low, high = prediction_band(Summary.of(row[:n]), coverage)
        hits += low <= row[n] <= high
    assert hits / trials == pytest.approx(coverage, abs=0.015)  # 4 standard errors
