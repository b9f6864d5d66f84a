"""Our A/B statistics (src/stats, src/experiments/summary.ts) against rliable 1.2.0 itself.

The TypeScript numbers come from test/helpers/stats-json.mjs, which runs the built package
(dist/; `npm test` builds it first). The same score matrices go to rliable here.

- Point estimates (IQM, mean, median, probability of improvement, performance profile) must
  agree to 1e-9.
- Intervals are percentile bootstrap intervals: ours and rliable's come from different random
  resamples, so they agree only up to Monte-Carlo noise. The check is in probability space, which
  stays meaningful when the bootstrap distribution is discrete (few runs, ties): each of our
  endpoints (the 2.5th / 97.5th percentile of our resamples) must lie between the
  (2.5 -/+ TOL_PP)th / (97.5 -/+ TOL_PP)th percentiles of rliable's own bootstrap distribution
  (rliable's StratifiedBootstrap / StratifiedIndependentBootstrap, `apply`). With R resamples on
  each side the position of an empirical 2.5% quantile has a standard error of
  sqrt(0.025 * 0.975 / R) = 0.16 points at R = 10,000, 0.22 combined: 1 point is about 4.5
  standard errors (1.5 points at the 4,000 resamples of the slower probability-of-improvement
  check, also about 4.5). Both sides are seeded, so the test is deterministic.
- rliable takes full runs x tasks matrices. For unequal runs per task (missing runs) the same
  definitions are applied: IQM = rliable's aggregate_iqm over all runs (trim_mean flattens the
  matrix anyway); mean / median = rliable's aggregate_mean / aggregate_median of the 1 x tasks
  matrix of per-task means (the first thing they compute); probability of improvement = the mean
  over tasks of rliable's probability_of_improvement on each task's columns; the bootstrap
  resamples each task's runs within that task, as StratifiedBootstrap does for full matrices.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rliable import library, metrics

REPO = Path(__file__).resolve().parents[2]
HELPER = REPO / "test" / "helpers" / "stats-json.mjs"
REPS = 10_000
POI_REPS = 4_000
TOL_PP = 1.0
POI_TOL_PP = 1.5
EXACT = 1e-9

Tasks = list[list[float]]  # scores[task][run], as the TypeScript side takes them


def ours(request: dict[str, Any]) -> dict[str, Any]:
    if not (REPO / "dist" / "src" / "stats" / "aggregate.js").exists():
        pytest.fail("dist/ is missing: run `npm run build` first (npm test does)")
    out = subprocess.run(
        ["node", str(HELPER)], input=json.dumps(request), capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr
    reply: dict[str, Any] = json.loads(out.stdout)
    return reply


def is_full(t: Tasks) -> bool:
    return len({len(runs) for runs in t}) == 1


def matrix(t: Tasks) -> np.ndarray:
    """rliable's layout: runs x tasks."""
    return np.array(t, dtype=np.float64).T


# rliable's metrics, on a full runs x tasks matrix (np.ndarray, as rliable takes them) or, with
# the same definitions, on tasks with unequal run counts (lists).
Scores = Tasks | np.ndarray


def full(t: Scores) -> np.ndarray | None:
    if isinstance(t, np.ndarray):
        return t
    return matrix(t) if is_full(t) else None


def flat(t: Scores) -> np.ndarray:
    m = full(t)
    return m if m is not None else np.concatenate([np.asarray(r, dtype=np.float64) for r in t])


def r_iqm(t: Scores) -> float:
    return float(metrics.aggregate_iqm(flat(t)))


def task_means(t: Scores) -> np.ndarray:
    m = full(t)
    return m if m is not None else np.array([[np.mean(r) for r in t]])


def r_mean(t: Scores) -> float:
    return float(metrics.aggregate_mean(task_means(t)))


def r_median(t: Scores) -> float:
    return float(metrics.aggregate_median(task_means(t)))


def r_poi(x: Scores, y: Scores) -> float:
    """P(Y > X) in our argument order; rliable's probability_of_improvement(a, b) is P(a > b)."""
    mx, my = full(x), full(y)
    if mx is not None and my is not None:
        return float(metrics.probability_of_improvement(my, mx))
    assert isinstance(x, list) and isinstance(y, list)
    per_task = [
        metrics.probability_of_improvement(
            np.array(ys, dtype=np.float64)[:, None], np.array(xs, dtype=np.float64)[:, None]
        )
        for xs, ys in zip(x, y, strict=True)
    ]
    return float(np.mean(per_task))


def r_profile(t: Scores, taus: list[float]) -> np.ndarray:
    return np.asarray(library.score_distributions(flat(t), taus), dtype=np.float64)


def resample(t: Tasks, rng: np.random.RandomState) -> Tasks:
    return [[r[i] for i in rng.randint(len(r), size=len(r))] for r in t]


def r_distribution(func: Callable[..., Any], arms: list[Tasks], reps: int) -> np.ndarray:
    """rliable's bootstrap distribution of func(*arms), reps x outputs."""
    np.random.seed(12345)  # rliable's update_indices draws from numpy's global generator
    if all(is_full(a) for a in arms):

        def wrapped(*ms: np.ndarray) -> np.ndarray:
            return np.atleast_1d(func(*ms))

        mats = [matrix(a) for a in arms]
        bs = library.StratifiedBootstrap(mats[0]) if len(mats) == 1 else library.StratifiedIndependentBootstrap(*mats)
        return np.asarray(bs.apply(wrapped, reps), dtype=np.float64).reshape(reps, -1)
    rng = np.random.RandomState(12345)
    return np.array([np.atleast_1d(func(*[resample(a, rng) for a in arms])) for _ in range(reps)], dtype=np.float64)


def check_interval(name: str, interval: dict[str, float], dist: np.ndarray, tol_pp: float) -> None:
    lo_band = np.percentile(dist, [2.5 - tol_pp, 2.5 + tol_pp])
    hi_band = np.percentile(dist, [97.5 - tol_pp, 97.5 + tol_pp])
    eps = 1e-12
    assert lo_band[0] - eps <= interval["lo"] <= lo_band[1] + eps, f"{name}: lo {interval['lo']} not in {lo_band}"
    assert hi_band[0] - eps <= interval["hi"] <= hi_band[1] + eps, f"{name}: hi {interval['hi']} not in {hi_band}"


def close(name: str, got: float, want: float) -> None:
    assert abs(got - want) <= EXACT * max(1.0, abs(want)), f"{name}: ours {got!r}, rliable {want!r}"


def rng_tasks(seed: int, runs: list[int], scale: float = 1.0, decimals: int | None = None) -> Tasks:
    rng = np.random.RandomState(seed)
    out = []
    for i, n in enumerate(runs):
        v = rng.gamma(2.0, scale, size=n) + i * 0.1 * scale
        out.append([float(x) for x in (np.round(v, decimals) if decimals is not None else v)])
    return out


CASES: dict[str, tuple[Tasks, Tasks]] = {
    # 5 runs (not divisible by 4), one game
    "one game, 5 runs": ([[0, 1, 4, 9, 16]], [[1, 3, 6, 10, 20]]),
    # the README's shape: 3 games x 5 seeds
    "3 games x 5 runs": (rng_tasks(1, [5, 5, 5]), rng_tasks(2, [5, 5, 5], scale=1.6)),
    "2 games x 6 runs": (rng_tasks(3, [6, 6]), rng_tasks(4, [6, 6])),
    "4 games x 7 runs": (rng_tasks(5, [7] * 4, scale=10), rng_tasks(6, [7] * 4, scale=12)),
    # ties: integer scores, many equal values, also across arms
    "ties": (
        [[1, 1, 2, 2, 2, 3], [0, 0, 0, 5, 5, 5]],
        [[1, 2, 2, 2, 3, 3], [0, 5, 5, 5, 5, 5]],
    ),
    "many games": (rng_tasks(7, [3] * 26, decimals=1), rng_tasks(8, [3] * 26, scale=1.2, decimals=1)),
    # unequal runs per game (missing runs), differently in each arm
    "unequal runs": (rng_tasks(9, [3, 5, 7]), rng_tasks(10, [4, 5, 2])),
    "missing runs, one left": ([[0.0], [1.0, 1.0, 1.0]], [[0.5, 0.7], [1.0, 2.0, 0.0]]),
}


# The cases whose intervals are checked (the others only need point estimates: few resamples).
INTERVAL_CASES = ["one game, 5 runs", "3 games x 5 runs", "ties", "many games", "unequal runs"]


@pytest.fixture(scope="module")
def our_cases() -> dict[str, dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for name, (x, y) in CASES.items():
        flat = [v for t in (x + y) for v in t]
        taus = list(np.linspace(min(flat), max(flat), 9))
        cases.append(
            {"name": name, "x": x, "y": y, "taus": taus, "reps": REPS if name in INTERVAL_CASES else 100, "seed": 1}
        )
    reply = ours({"cases": cases})
    return {
        c["name"]: {**r, "scores_x": c["x"], "scores_y": c["y"], "taus": c["taus"]}
        for c, r in zip(cases, reply["cases"], strict=True)
    }


@pytest.mark.parametrize("name", list(CASES))
def test_point_estimates_equal_rliable(our_cases: dict[str, dict[str, Any]], name: str) -> None:
    c = our_cases[name]
    x, y = c["scores_x"], c["scores_y"]
    for arm, t in (("x", x), ("y", y)):
        close(f"{name} {arm} IQM", c[arm]["iqm"]["estimate"], r_iqm(t))
        close(f"{name} {arm} mean", c[arm]["mean"]["estimate"], r_mean(t))
        close(f"{name} {arm} median", c[arm]["median"]["estimate"], r_median(t))
    close(f"{name} IQM difference", c["iqmDiff"]["estimate"], r_iqm(y) - r_iqm(x))
    close(f"{name} mean difference", c["meanDiff"]["estimate"], r_mean(y) - r_mean(x))
    close(f"{name} P(Y > X)", c["poi"], r_poi(x, y))
    close(f"{name} P(Y > X) of the interval", c["poiCI"]["estimate"], r_poi(x, y))
    want = r_profile(x, c["taus"])
    for i, got in enumerate(c["profileX"]):
        close(f"{name} profile at tau {i}", got, float(want[i]))
        close(f"{name} profile interval at tau {i}", c["profileXCI"][i]["estimate"], float(want[i]))


def test_known_differences_from_the_old_formulas(our_cases: dict[str, dict[str, Any]]) -> None:
    # The cases that showed the bug (issue 11): trim_mean, not fractional weights, and the mean
    # of per-game means, not of all runs.
    c = our_cases["one game, 5 runs"]
    assert c["x"]["iqm"]["estimate"] == pytest.approx(14 / 3, abs=EXACT)
    c = our_cases["missing runs, one left"]
    assert c["x"]["mean"]["estimate"] == pytest.approx(0.5, abs=EXACT)


@pytest.mark.parametrize("name", INTERVAL_CASES)
def test_intervals_match_rliable_bootstrap(our_cases: dict[str, dict[str, Any]], name: str) -> None:
    c = our_cases[name]
    x, y = c["scores_x"], c["scores_y"]
    for arm, t in (("x", x), ("y", y)):
        for metric, f in (("iqm", r_iqm), ("mean", r_mean), ("median", r_median)):
            check_interval(f"{name} {arm} {metric}", c[arm][metric], r_distribution(f, [t], REPS), TOL_PP)
    diff = r_distribution(lambda a, b: r_iqm(b) - r_iqm(a), [x, y], REPS)
    check_interval(f"{name} IQM difference", c["iqmDiff"], diff, TOL_PP)
    taus = c["taus"]
    prof = r_distribution(lambda a: r_profile(a, taus), [x], REPS)
    for i in range(len(taus)):
        check_interval(f"{name} profile at tau {i}", c["profileXCI"][i], prof[:, i], TOL_PP)


def test_rliable_own_interval_estimates_agree() -> None:
    # rliable's public entry point, get_interval_estimates, on one case: its percentile interval
    # lies in the same bands as ours (so the band check above measures what rliable reports).
    x, _ = CASES["3 games x 5 runs"]
    c = ours({"cases": [{"x": x, "y": x, "taus": [0.0], "reps": REPS, "seed": 3}]})["cases"][0]
    np.random.seed(7)
    point, ci = library.get_interval_estimates(
        {"x": matrix(x)}, lambda s: np.array([metrics.aggregate_iqm(s)]), reps=REPS
    )
    close("IQM point", c["x"]["iqm"]["estimate"], float(point["x"][0]))
    dist = r_distribution(r_iqm, [x], REPS)
    rl = {"lo": float(ci["x"][0][0]), "hi": float(ci["x"][1][0])}
    check_interval("rliable's own IQM interval", rl, dist, TOL_PP)
    check_interval("our IQM interval", c["x"]["iqm"], dist, TOL_PP)


@pytest.mark.parametrize("name", ["3 games x 5 runs", "unequal runs"])
def test_probability_of_improvement_interval(name: str) -> None:
    x, y = CASES[name]
    c = ours({"cases": [{"x": x, "y": y, "taus": [0.0], "reps": POI_REPS, "seed": 5}]})["cases"][0]
    dist = r_distribution(r_poi, [x, y], POI_REPS)
    check_interval(f"{name} P(Y > X)", c["poiCI"], dist, POI_TOL_PP)


def test_ab_summary_gives_rliables_numbers() -> None:
    # A finished synthetic A/B experiment on disk (3 Atari games x 5 seeds, two runs missing),
    # summarised by `coordrl ab`'s own code: the aggregates and the verdict's numbers are rliable's.
    envs = ["pong", "breakout", "seaquest"]
    seeds = [1, 2, 3, 4, 5]
    rng = np.random.RandomState(11)
    scores: dict[str, dict[str, list[float | None]]] = {
        "conv": {
            "pong": [float(v) for v in rng.randint(-21, -10, size=5)],
            "breakout": [float(v) for v in rng.randint(2, 30, size=5)],
            "seaquest": [float(v) for v in rng.randint(100, 900, size=5)],
        },
        "coordconv": {
            "pong": [float(v) for v in rng.randint(-18, 0, size=5)],
            "breakout": [float(v) for v in rng.randint(5, 40, size=5)],
            "seaquest": [float(v) for v in rng.randint(150, 1200, size=5)],
        },
    }
    scores["conv"]["breakout"][3] = None
    scores["coordconv"]["seaquest"][0] = None
    reply = ours({"experiment": {"envs": envs, "seeds": seeds, "scores": scores, "reps": REPS}})["experiment"]
    assert reply["normalization"] == "human"

    def normalised(arm: str) -> Tasks:
        out = []
        for env in envs:
            ref = reply["references"][env]
            out.append(
                [(s - ref["random"]) / (ref["human"] - ref["random"]) for s in scores[arm][env] if s is not None]
            )
        return out

    x, y = normalised("conv"), normalised("coordconv")
    arms = {a["arm"]: a for a in reply["aggregate"]["arms"]}
    for arm, t in (("conv", x), ("coordconv", y)):
        close(f"{arm} IQM", arms[arm]["iqm"]["estimate"], r_iqm(t))
        close(f"{arm} mean", arms[arm]["mean"]["estimate"], r_mean(t))
        close(f"{arm} median", arms[arm]["median"]["estimate"], r_median(t))
        check_interval(f"{arm} IQM", arms[arm]["iqm"], r_distribution(r_iqm, [t], REPS), TOL_PP)
        check_interval(f"{arm} median", arms[arm]["median"], r_distribution(r_median, [t], REPS), TOL_PP)
    comp = reply["comparisons"][0]
    close("IQM difference", comp["iqmDiff"]["estimate"], r_iqm(y) - r_iqm(x))
    close("mean difference", comp["meanDiff"]["estimate"], r_mean(y) - r_mean(x))
    close("P(coordconv > conv)", comp["poi"]["estimate"], r_poi(x, y))
    diff = r_distribution(lambda a, b: r_iqm(b) - r_iqm(a), [x, y], REPS)
    check_interval("IQM difference", comp["iqmDiff"], diff, TOL_PP)
