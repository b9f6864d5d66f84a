// Our power analysis as JSON, for python-bridge/tests/test_power.py, which computes the same numbers
// with scipy and statsmodels. Reads one JSON request on stdin, writes one JSON reply; runs the
// built package (dist/), so `npm run build` first (npm test does).
//   {"analytic": [{"d": 0.8, "n": 10, "alpha": 0.05, "sided": "one-sided"}, ...],
//    "welch": [{"x": [...], "y": [...]}, ...]}
import { readFileSync } from 'node:fs';
import { analyticPower, analyticSeeds, welchTTest } from '../../dist/src/stats/power.js';

const req = JSON.parse(readFileSync(0, 'utf8'));
const out = {
  analytic: (req.analytic ?? []).map(({ d, n, alpha, sided }) => ({
    power: analyticPower(d, n, alpha, sided),
    seeds: analyticSeeds(d, { alpha, sided, power: 0.8 }),
  })),
  welch: (req.welch ?? []).map(({ x, y }) => welchTTest(x, y)),
};
process.stdout.write(JSON.stringify(out));
