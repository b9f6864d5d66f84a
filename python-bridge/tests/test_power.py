"""Our power analysis (src/stats/power.ts) against scipy and statsmodels.

The TypeScript numbers come from test/helpers/power-json.mjs, which runs the built package
(dist/; `npm test` builds it first).

- Analytic power of the two-sample t-test with n runs per arm and standardised effect d:
  statsmodels' TTestIndPower (noncentral t, 2n - 2 degrees of freedom), one- and two-sided,
  to 1e-6; the seeds needed for power 0.8 equal statsmodels' solve_power rounded up.
- Welch's t-test: t, degrees of freedom and the one-sided p-value equal
  scipy.stats.ttest_ind(equal_var=False, alternative="greater") to 1e-9.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import TTestIndPower

REPO = Path(__file__).resolve().parents[2]
HELPER = REPO / "test" / "helpers" / "power-json.mjs"


def ours(request: dict[str, Any]) -> dict[str, Any]:
    if not (REPO / "dist" / "src" / "stats" / "power.js").exists():
        pytest.skip("dist/ not built (npm run build)")
    out = subprocess.run(
        ["node", str(HELPER)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


CASES = [
    (d, n, sided)
    for d in (0.3, 0.5, 0.8, 1.0, 1.5, 2.0)
    for n in (3, 5, 10, 25, 60)
    for sided in ("one-sided", "two-sided")
]


def test_analytic_power_equals_statsmodels() -> None:
    request = {"analytic": [{"d": d, "n": n, "alpha": 0.05, "sided": s} for d, n, s in CASES]}
    got = ours(request)["analytic"]
    power = TTestIndPower()
    for (d, n, sided), ours_case in zip(CASES, got, strict=True):
        alt = "larger" if sided == "one-sided" else "two-sided"
        want = power.power(effect_size=d, nobs1=n, alpha=0.05, ratio=1.0, alternative=alt)
        assert ours_case["power"] == pytest.approx(want, abs=1e-6), (d, n, sided)
        n_star = power.solve_power(effect_size=d, power=0.8, alpha=0.05, ratio=1.0, alternative=alt)
        assert ours_case["seeds"] == max(2, math.ceil(n_star - 1e-9)), (d, sided, n_star)


def test_welch_equals_scipy() -> None:
    rng = np.random.default_rng(4)
    pairs = [
        (rng.normal(0, 1, 5), rng.normal(0.5, 2, 7)),
        (rng.normal(3, 0.1, 12), rng.normal(3.05, 0.3, 12)),
        (rng.normal(0, 5, 30), rng.normal(-1, 1, 4)),
    ]
    got = ours({"welch": [{"x": x.tolist(), "y": y.tolist()} for x, y in pairs]})["welch"]
    for (x, y), w in zip(pairs, got, strict=True):
        res = stats.ttest_ind(y, x, equal_var=False, alternative="greater")
        assert w["t"] == pytest.approx(float(res.statistic), rel=1e-9)
        assert w["df"] == pytest.approx(float(res.df), rel=1e-9)
        assert w["pGreater"] == pytest.approx(float(res.pvalue), rel=1e-7, abs=1e-12)
