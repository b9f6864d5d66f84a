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
- Sample-efficiency curves and per-game P(B > A) come from a synthetic A/B experiment with
  training curves (metrics.jsonl), summarised by the `ab` code. Here each run's curve is
  interpolated with np.interp at our grid points (a run whose curve does not reach a point is
  left out there) and human-normalised; where every run covers the points, rliable's own
  recipe (runs x games x frames arrays, the IQM per frame, get_interval_estimates) gives the
  point estimates, and the unequal-run points use the definitions above. These use 4,000
  resamples a side (CURVE_REPS): the 2.5% quantile's position has a standard error of
  sqrt(0.025 * 0.975 / 4000) = 0.25 points a side, 0.35 for the two together, so the band of
  +/- 1.5 points (CURVE_TOL_PP, as for the probability of improvement) is about 4.3 standard
  errors at each of the about 100 interval ends checked there. A 93% interval in place of the 95% one
  fails it.
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


def r_distribution(func: Callable[..., Any], arms: list[Tasks] | list[np.ndarray], reps: int) -> np.ndarray:
    """rliable's bootstrap distribution of func(*arms), reps x outputs. An arm is scores[task][run]
    or an array as rliable takes it (runs x tasks x ...: a 3-d one for scores at several frames)."""
    np.random.seed(12345)  # rliable's update_indices draws from numpy's global generator
    if all(isinstance(a, np.ndarray) or is_full(a) for a in arms):

        def wrapped(*ms: np.ndarray) -> np.ndarray:
            return np.atleast_1d(func(*ms))

        mats = [a if isinstance(a, np.ndarray) else matrix(a) for a in arms]
        bs = library.StratifiedBootstrap(mats[0]) if len(mats) == 1 else library.StratifiedIndependentBootstrap(*mats)
        return np.asarray(bs.apply(wrapped, reps), dtype=np.float64).reshape(reps, -1)
    rng = np.random.RandomState(12345)
    tasks = [a for a in arms if isinstance(a, list)]
    assert len(tasks) == len(arms), "mix of arrays and unequal runs"
    return np.array([np.atleast_1d(func(*[resample(a, rng) for a in tasks])) for _ in range(reps)], dtype=np.float64)


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


# ---------------------------------------------------------------------------------------------
# Sample-efficiency curves and per-game P(B > A), from an A/B experiment with training curves

CURVE_REPS = 4_000
CURVE_TOL_PP = 1.5
CURVE_GRID = 13
CURVE_ENVS = ["pong", "breakout", "seaquest"]
CURVE_SEEDS = [1, 2, 3, 4, 5]
# Which runs are still training: their curves end early (frames) and they have no final score.
CURVE_UNFINISHED = {("coordconv", "breakout", 5): 24_000}


def synthetic_curves() -> tuple[dict[str, Any], dict[str, Any]]:
    """Final scores and rising, noisy training curves logged every 4,000 frames up to 40,000."""
    rng = np.random.RandomState(21)
    base = {"pong": (-21.0, 1.2), "breakout": (1.0, 2.0), "seaquest": (80.0, 30.0)}
    scores: dict[str, dict[str, list[float | None]]] = {}
    curves: dict[str, dict[str, list[list[list[float]]]]] = {}
    for arm, gain in (("conv", 1.0), ("coordconv", 1.25)):
        scores[arm], curves[arm] = {}, {}
        for env in CURVE_ENVS:
            start, slope = base[env]
            scores[arm][env], curves[arm][env] = [], []
            for seed in CURVE_SEEDS:
                end = CURVE_UNFINISHED.get((arm, env, seed), 40_000)
                frames = np.arange(4_000, end + 1, 4_000)
                noise = rng.normal(0.0, slope, size=frames.size)
                curve = start + gain * slope * np.arange(frames.size) + noise
                curves[arm][env].append([[float(f), float(v)] for f, v in zip(frames, curve, strict=True)])
                finished = (arm, env, seed) not in CURVE_UNFINISHED
                scores[arm][env].append(float(curve[-1] + rng.normal(0.0, slope)) if finished else None)
    return scores, curves


@pytest.fixture(scope="module")
def curve_experiment() -> dict[str, Any]:
    scores, curves = synthetic_curves()
    request = {
        "envs": CURVE_ENVS,
        "seeds": CURVE_SEEDS,
        "scores": scores,
        "curves": curves,
        "reps": CURVE_REPS,
        "gridPoints": CURVE_GRID,
    }
    reply = ours({"experiment": request})["experiment"]
    return {"reply": reply, "scores": scores, "curves": curves}


def grid_scores(c: dict[str, Any], arm: str, x: float) -> Tasks:
    """Human-normalised training scores at frames x: each run's curve interpolated (np.interp),
    runs whose curve does not reach x left out, per game."""
    refs = c["reply"]["references"]
    out: Tasks = []
    for env in CURVE_ENVS:
        ref = refs[env]
        runs = []
        for curve in c["curves"][arm][env]:
            f, v = np.array(curve, dtype=np.float64).T
            if f[0] <= x <= f[-1]:
                runs.append(float((np.interp(x, f, v) - ref["random"]) / (ref["human"] - ref["random"])))
        out.append(runs)
    return out


def test_sample_efficiency_grid(curve_experiment: dict[str, Any]) -> None:
    se = curve_experiment["reply"]["sampleEfficiency"]
    # The learning curves' grid (0 to the last logged frame, CURVE_GRID points) less the points
    # where a game has no run of an arm (before 4,000 frames: nothing logged yet).
    want = [x for x in np.linspace(0, 40_000, CURVE_GRID) if x >= 4_000]
    assert len(se["grid"]) == len(want)
    for got, x in zip(se["grid"], want, strict=True):
        close("grid point", got, float(x))
    assert [a["arm"] for a in se["arms"]] == ["conv", "coordconv"]
    assert [(d["a"], d["b"]) for d in se["differences"]] == [("conv", "coordconv")]
    runs = [sum(len(r) for r in grid_scores(curve_experiment, "coordconv", x)) for x in se["grid"]]
    assert se["arms"][1]["runs"] == runs
    assert 14 in runs and 15 in runs  # the unfinished run is in at some points, out at others


def test_sample_efficiency_matches_rliable(curve_experiment: dict[str, Any]) -> None:
    # rliable's sample-efficiency recipe (as in its Atari 100k notebook): scores as runs x games x
    # frames, the IQM per frame, get_interval_estimates over the stratified bootstrap. That needs
    # a full matrix: the points where every run covers them. At the other points (the unfinished
    # run left out) the same definitions apply to games with unequal runs, as above.
    se = curve_experiment["reply"]["sampleEfficiency"]
    grid = se["grid"]
    ours_arm = {a["arm"]: a["points"] for a in se["arms"]}
    ours_diff = se["differences"][0]["points"]
    full_idx = [k for k, x in enumerate(grid) if all(is_full(grid_scores(curve_experiment, a, x)) for a in ours_arm)]
    part_idx = [k for k in range(len(grid)) if k not in full_idx]
    assert full_idx and part_idx

    def cube(arm: str) -> np.ndarray:
        return np.stack([matrix(grid_scores(curve_experiment, arm, grid[k])) for k in full_idx], axis=-1)

    def iqm_frames(s: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(s[..., f]) for f in range(s.shape[-1])])

    conv, cc = cube("conv"), cube("coordconv")
    np.random.seed(17)
    point, ci = library.get_interval_estimates(
        {"conv": conv, "coordconv": cc, "diff": (conv, cc)},
        lambda *s: iqm_frames(s[0]) if len(s) == 1 else iqm_frames(s[1]) - iqm_frames(s[0]),
        reps=CURVE_REPS,
    )
    dist = {
        "conv": r_distribution(iqm_frames, [conv], CURVE_REPS),
        "coordconv": r_distribution(iqm_frames, [cc], CURVE_REPS),
        "diff": r_distribution(lambda a, b: iqm_frames(b) - iqm_frames(a), [conv, cc], CURVE_REPS),
    }
    for j, k in enumerate(full_idx):
        for key, got in (
            ("conv", ours_arm["conv"][k]),
            ("coordconv", ours_arm["coordconv"][k]),
            ("diff", ours_diff[k]),
        ):
            name = f"{key} at {grid[k]:.0f} frames"
            close(f"{name} IQM", got["estimate"], float(point[key][j]))
            check_interval(f"our {name}", got, dist[key][:, j], CURVE_TOL_PP)
            rl = {"lo": float(ci[key][0][j]), "hi": float(ci[key][1][j])}
            check_interval(f"rliable's own {name}", rl, dist[key][:, j], CURVE_TOL_PP)
    for k in part_idx:
        x = grid_scores(curve_experiment, "conv", grid[k])
        y = grid_scores(curve_experiment, "coordconv", grid[k])
        assert not is_full(y)
        name = f"at {grid[k]:.0f} frames (unequal runs)"
        close(f"conv IQM {name}", ours_arm["conv"][k]["estimate"], r_iqm(x))
        close(f"coordconv IQM {name}", ours_arm["coordconv"][k]["estimate"], r_iqm(y))
        close(f"IQM difference {name}", ours_diff[k]["estimate"], r_iqm(y) - r_iqm(x))
        for arm, t in (("conv", x), ("coordconv", y)):
            dist_arm = r_distribution(r_iqm, [t], CURVE_REPS)
            check_interval(f"{arm} IQM {name}", ours_arm[arm][k], dist_arm, CURVE_TOL_PP)
        diff = r_distribution(lambda a, b: r_iqm(b) - r_iqm(a), [x, y], CURVE_REPS)
        check_interval(f"IQM difference {name}", ours_diff[k], diff, CURVE_TOL_PP)


def test_per_game_probability_of_improvement_matches_rliable(curve_experiment: dict[str, Any]) -> None:
    # Per game, rliable's probability_of_improvement on that game's columns only (a one-task
    # matrix), and its interval from StratifiedIndependentBootstrap of the two arms' runs.
    scores = curve_experiment["scores"]
    for g in curve_experiment["reply"]["games"]:
        env = g["env"]
        x = [[s for s in scores["conv"][env] if s is not None]]
        y = [[s for s in scores["coordconv"][env] if s is not None]]
        poi = g["comparisons"][0]["poi"]
        want = float(metrics.probability_of_improvement(matrix(y), matrix(x)))
        close(f"{env} P(coordconv > conv)", poi["estimate"], want)
        check_interval(f"{env} P(coordconv > conv)", poi, r_distribution(r_poi, [x, y], CURVE_REPS), CURVE_TOL_PP)
        mean_diff = g["comparisons"][0]["meanDiff"]
        close(f"{env} mean(coordconv) - mean(conv)", mean_diff["estimate"], float(np.mean(y) - np.mean(x)))
