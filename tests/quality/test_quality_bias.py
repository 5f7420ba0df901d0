"""Bias audit against hand-computed and scipy reference values."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import chi2_contingency, fisher_exact

from labelloop.errors import InputRejected
from labelloop.quality.bias import (
    BiasRecord,
    annotator_divergence,
    bias_audit,
    slice_error_rates,
    slice_label_test,
)


def _table_records(table: dict[str, dict[str, int]], attribute: str = "g") -> list[BiasRecord]:
    out: list[BiasRecord] = []
    for s, row in table.items():
        for label, n in row.items():
            out.extend(BiasRecord(len(out), label, {attribute: s}) for _ in range(n))
    return out


def test_chi_square_and_disparity_match_reference() -> None:
    recs = _table_records({"a": {"pos": 30, "neg": 10}, "b": {"pos": 20, "neg": 40}})
    t = slice_label_test(recs, "g")
    ref = chi2_contingency(np.array([[10, 30], [40, 20]]), correction=False)
    assert t.chi2 == pytest.approx(ref.statistic) and t.p_value == pytest.approx(ref.pvalue) and t.dof == 1
    # by hand: expected counts 20/20/30/30 -> chi2 = 100/20 + 100/20 + 100/30 + 100/30
    assert t.chi2 == pytest.approx(5 + 5 + 10 / 3 + 10 / 3)
    assert t.counts == ((10, 30), (40, 20)) and t.labels == ("neg", "pos")
    assert t.disparity["pos"] == pytest.approx((20 / 60) / (30 / 40))
    assert t.disparity["neg"] == pytest.approx((10 / 40) / (40 / 60))
    assert t.flagged


def test_independent_slices_are_not_flagged() -> None:
    recs = _table_records({"a": {"pos": 30, "neg": 30}, "b": {"pos": 20, "neg": 20}, "c": {"pos": 5, "neg": 5}})
    t = slice_label_test(recs, "g")
    assert t.chi2 == pytest.approx(0.0) and t.p_value == pytest.approx(1.0) and not t.flagged
    assert t.disparity == {"neg": pytest.approx(1.0), "pos": pytest.approx(1.0)}


def test_single_slice_is_a_no_op() -> None:
    t = slice_label_test(_table_records({"a": {"x": 3, "y": 4}}), "g")
    assert (t.chi2, t.p_value, t.flagged) == (0.0, 1.0, False)


def test_annotator_js_distance_matches_the_formula() -> None:
    recs = [BiasRecord(i, "a" if i % 2 else "b", {}, "half") for i in range(20)]
    recs += [BiasRecord(100 + i, "a" if i < 90 else "b", {}, f"p{i % 3}") for i in range(100)]
    got = {d.annotator: d for d in annotator_divergence(recs)}
    p, q = np.array([0.5, 0.5]), np.array([0.9, 0.1])
    m = (p + q) / 2
    jsd = 0.5 * sum(p * np.log2(p / m)) + 0.5 * sum(q * np.log2(q / m))
    assert got["half"].js_distance == pytest.approx(math.sqrt(jsd))
    ref = chi2_contingency(np.array([[10, 10], [90, 10]]), correction=False).pvalue
    assert got["half"].p_value == pytest.approx(min(1.0, ref * 4)) and got["half"].flagged
    assert got["half"].n == 20


def test_small_annotators_are_skipped() -> None:
    recs = [BiasRecord(i, "a", {}, "few") for i in range(3)] + [BiasRecord(9 + i, "b", {}, "many") for i in range(9)]
    assert [d.annotator for d in annotator_divergence(recs, min_items=5)] == ["many"]


def test_slice_error_rates_match_fisher_and_z() -> None:
    recs = [BiasRecord(i, "l", {"g": "a"}, correct=i >= 12) for i in range(40)]  # 12/40 wrong
    recs += [BiasRecord(100 + i, "l", {"g": "b"}, correct=i >= 6) for i in range(60)]  # 6/60 wrong
    recs += [BiasRecord(200 + i, "l", {"g": "b"}) for i in range(10)]  # unknown correctness: ignored
    got = {e.slice: e for e in slice_error_rates(recs, "g")}
    a = got["a"]
    assert (a.n, a.errors, a.rate, a.rest_rate) == (40, 12, 0.3, 0.1)
    assert a.p_value == pytest.approx(min(1.0, 2 * fisher_exact([[12, 28], [6, 54]]).pvalue))
    pooled = 18 / 100
    assert a.z == pytest.approx((0.3 - 0.1) / math.sqrt(pooled * (1 - pooled) * (1 / 40 + 1 / 60)))
    assert a.flagged and got["b"].z == pytest.approx(-a.z)


def test_report_to_dict_is_json_and_flags() -> None:
    recs = _table_records({"a": {"pos": 30, "neg": 10}, "b": {"pos": 20, "neg": 40}})
    report = bias_audit(recs)
    d = json.loads(json.dumps(report.to_dict()))
    assert d["flagged"] is True and d["slices"][0]["attribute"] == "g" and d["alpha"] == 0.05


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1])
def test_bad_alpha_is_refused(alpha: float) -> None:
    with pytest.raises(InputRejected, match="alpha"):
        bias_audit([], alpha=alpha)
