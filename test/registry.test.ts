// The algorithm registry (src/algorithms/): outside it no code compares or switches on an
// algorithm's name, every registered algorithm is complete (schema, factory, presets, flags in
// `train --help`), and a flag of another algorithm is refused naming the algorithm(s) it belongs to.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ALGORITHMS, ALGOS, algorithms, createAgent, DEFAULT_ALGO } from '../src/algorithms/registry.js';
import { initBackend } from '../src/backend.js';
import { commonSchema, kebab } from '../src/config.js';
import { envFamily } from '../src/presets.js';
import { resolveRunConfig } from '../src/run-config.js';
import { resolveTorso } from '../src/training/run.js';
import { Rng } from '../src/util/rng.js';
import { coordrl } from './helpers/cli.js';
import { fakeEnv } from './helpers/fake-env.js';

const ROOT = path.resolve(__dirname, '..');
const REGISTRY_DIR = path.join(ROOT, 'src', 'algorithms');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * What comparing or switching on algorithm names looks like, built from the registered names and
 * titles (so a new algorithm is covered by adding it): `=== 'a2c'`, `'dqn' !==`, `case 'dqn':`,
 * `algo === ...`, `switch (config.algo)`, `?? 'a2c'` (a default named outside the registry),
 * `.includes('dqn')`, `'a2c' | 'dqn'` and `['a2c', 'dqn']` (name lists), `{ a2c: ... }` (tables
 * keyed by name), and `? A2C :` / `? new DQN(` (a class picked by name).
 */
function namePatterns(names: readonly string[], titles: readonly string[]): RegExp[] {
  const lit = (n: string) => `['"\`]${escapeRegExp(n)}['"\`]`;
  const patterns = [/\balgo\s*[!=]==?/, /[!=]==?\s*[\w.?]*\balgo\b/, /switch\s*\(\s*[\w.?]*\balgo\s*\)/];
  for (const n of names) {
    patterns.push(
      new RegExp(`[!=]==?\\s*${lit(n)}`),
      new RegExp(`${lit(n)}\\s*[!=]==?`),
      new RegExp(`case\\s+${lit(n)}\\s*:`),
      new RegExp(`\\?\\?\\s*${lit(n)}`),
      new RegExp(`\\.includes\\(\\s*${lit(n)}`),
      new RegExp(`${lit(n)}\\s*\\|`),
      new RegExp(`\\|\\s*${lit(n)}`),
      new RegExp(`[{,]\\s*${escapeRegExp(n)}\\s*:`),
    );
    for (const m of names) if (m !== n) patterns.push(new RegExp(`${lit(n)}\\s*,\\s*${lit(m)}`));
  }
  for (const t of titles) patterns.push(new RegExp(`\\?\\s*(new\\s+)?${escapeRegExp(t)}\\b`));
  return patterns;
}

/** `file:line: code` for every line of src/ and envs/ outside src/algorithms/ that names algorithms so. */
function nameSwitches(patterns: RegExp[]): string[] {
  const hits: string[] = [];
  for (const file of [...tsFiles(path.join(ROOT, 'src')), ...tsFiles(path.join(ROOT, 'envs'))]) {
    if (file.startsWith(REGISTRY_DIR + path.sep)) continue;
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/^\s*(\/\/|\*|\/\*)/.test(line)) return; // comments may say which algorithm does what
        if (patterns.some((p) => p.test(line))) hits.push(`${path.relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
      });
  }
  return hits;
}

const titles = algorithms().map((a) => a.title);

describe('algorithm names outside the registry', () => {
  const patterns = namePatterns(ALGOS, titles);

  it('the scan recognises comparisons and switches on names (and not a name merely used)', () => {
    const [a, b] = ALGOS;
    const [A, B] = titles;
    for (const bad of [
      `return config.algo === '${a}' ? new ${A}(ctx, config) : new ${B}(ctx, config);`,
      `if (opts.algo !== "${b}") return;`,
      `  case '${b}':`,
      `const copies = '${b}' === algo ? 8 : 4;`,
      `switch (config.algo) {`,
      `const algo = flags.algo ?? '${a}';`,
      `if (['${a}', '${b}'].includes(name)) {}`,
      `algo: '${a}' | '${b}';`,
      `const schemas = { ${a}: x, ${b}: y };`,
      `agent = isA ? ${A} : ${B};`,
    ]) {
      expect(
        patterns.some((p) => p.test(bad)),
        bad,
      ).toBe(true);
    }
    for (const fine of [
      `readonly algo = '${a}';`,
      `const r = await benchTrain({ ...opts, algo: '${a}' });`,
      `label: \`\${config.algo}/\${config.torso}\`,`,
      `let agent: ${A} | null = null;`,
    ]) {
      expect(
        patterns.some((p) => p.test(fine)),
        fine,
      ).toBe(false);
    }
  });

  it('no file in src/ or envs/ outside src/algorithms/ compares or switches on an algorithm name', () => {
    expect(nameSwitches(patterns)).toEqual([]);
  });
});

describe('every registered algorithm', () => {
  beforeAll(async () => {
    await initBackend('tensorflow');
  });

  it('has a unique name, a title and a one-line description; the default is registered', () => {
    expect(new Set(ALGOS).size).toBe(ALGOS.length);
    expect(ALGOS).toContain(DEFAULT_ALGO);
    for (const a of algorithms()) {
      expect(a.name).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(a.title.length).toBeGreaterThan(0);
      expect(a.description).toMatch(/^[^\n]{10,100}$/);
    }
  });

  it('has a strict hyperparameter schema, disjoint from the common settings, whose defaults validate', () => {
    for (const a of algorithms()) {
      const keys = Object.keys(a.hyperparameters.shape);
      expect(keys.length, a.name).toBeGreaterThan(0);
      expect(
        keys.filter((k) => k in commonSchema.shape),
        a.name,
      ).toEqual([]);
      expect(() => a.hyperparameters.parse({ noSuchField: 1 }), a.name).toThrow();
      expect(resolveRunConfig({ algo: a.name, env: 'CartPole-v1' }).algo).toBe(a.name);
    }
  });

  it('has presets of its own fields only, applied for their env family', () => {
    const example = { atari: 'pong', minatar: 'minatar/breakout', gymnasium: 'CartPole-v1' } as const;
    for (const a of algorithms()) {
      expect(a.presets, a.name).toBeTypeOf('object');
      for (const [family, preset] of Object.entries(a.presets)) {
        const env = example[family as keyof typeof example];
        expect(envFamily(env)).toBe(family);
        const config = resolveRunConfig({ algo: a.name, env }) as Record<string, unknown>;
        for (const [key, value] of Object.entries(preset ?? {})) {
          expect(key in a.hyperparameters.shape, `${a.name} preset ${family}.${key}`).toBe(true);
          expect(config[key], `${a.name} on ${env}: ${key}`).toEqual(value);
        }
      }
    }
  });

  it('builds its agent through its factory; eval --policy sample is offered where the agent can sample', () => {
    for (const a of algorithms()) {
      const config = a.evaluation.config(resolveRunConfig({ algo: a.name, env: 'CartPole-v1', numEnvs: 2 }));
      const env = fakeEnv([4], 'float32', 2, 3);
      const agent = createAgent(
        {
          env,
          rng: new Rng(1),
          seeds: { init: 1 },
          torso: resolveTorso(config, env.observationSpace.shape),
          progress: () => 0,
          onStep: () => {},
        },
        config,
      );
      try {
        expect(agent.algo).toBe(a.name);
        expect(agent.act(new Float32Array(8), 2)).toHaveLength(2);
        expect(typeof agent.sampleActions === 'function', a.name).toBe(a.evaluation.samples);
        expect(a.envGroups(config)).toBeGreaterThanOrEqual(1);
        expect(a.memory.parameterCopies).toBeGreaterThanOrEqual(2);
        expect(a.memory.parts(config, { shape: [4], dtype: 'float32' }).length).toBeGreaterThan(0);
      } finally {
        agent.dispose();
      }
    }
  });

  it("refuses another algorithm's configuration in its entry's functions", () => {
    const [first, second] = algorithms();
    const config = resolveRunConfig({ algo: second.name, env: 'CartPole-v1' });
    expect(() => first.envGroups(config)).toThrow(`the ${first.name} entry was given a ${second.name} configuration`);
  });

  it('lists its flags in `coordrl train --help`, under the heading of the algorithms they belong to', () => {
    const r = coordrl(['train', '--help']);
    expect(r.code).toBe(0);
    // Help groups: a heading line ending in ':' followed by indented option lines.
    const groups = new Map<string, string>();
    let heading = '';
    for (const line of r.stdout.split('\n')) {
      if (/^\S.*:$/.test(line)) heading = line;
      else if (heading) groups.set(heading, `${groups.get(heading) ?? ''}${line}\n`);
    }
    for (const a of algorithms()) {
      expect(r.stdout.replace(/\s+/g, ' ')).toContain(`${a.name}: ${a.description}`);
      for (const key of Object.keys(a.hyperparameters.shape)) {
        const flag = `--${kebab(key)}`;
        const owners = ALGORITHMS.filter((b) => key in b.hyperparameters.shape).map((b) => b.title);
        const group = [...groups].find(([, text]) => new RegExp(`^\\s+${escapeRegExp(flag)}\\b(?!-)`, 'm').test(text));
        expect(group, `${flag} of ${a.name}`).toBeDefined();
        // The heading names exactly the algorithms whose hyperparameters include it.
        const named = titles.filter((t) => new RegExp(`\\b${escapeRegExp(t)}\\b`).test(group?.[0] ?? ''));
        expect(named, `${flag}: ${group?.[0]}`).toEqual(owners);
        expect(group?.[0], flag).toContain(a.name);
      }
    }
    expect(r.stdout).toMatch(/^Run options \(every algorithm\):\n {2}--env /m);
  });
});

describe("a flag of another algorithm's", () => {
  it('is refused naming the algorithm(s) it belongs to, for every pair of algorithms', () => {
    let checked = 0;
    for (const a of algorithms()) {
      for (const key of ALGORITHMS.flatMap((b) => Object.keys(b.hyperparameters.shape))) {
        if (key in a.hyperparameters.shape) continue;
        const owners = ALGORITHMS.filter((b) => key in b.hyperparameters.shape).map((b) => b.name);
        const list = owners.length === 1 ? owners[0] : `${owners.slice(0, -1).join(', ')} and ${owners.at(-1)}`;
        expect(() => resolveRunConfig({ algo: a.name, [key]: 1 })).toThrow(
          `--${kebab(key)} is a ${list} setting; it does not apply to --algo ${a.name}`,
        );
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('names dqn for --buffer-size under a2c and a2c for --n-steps under dqn; shared flags pass', () => {
    expect(() => resolveRunConfig({ algo: 'a2c', bufferSize: 1000 })).toThrow(
      '--buffer-size is a dqn setting; it does not apply to --algo a2c',
    );
    expect(() => resolveRunConfig({ algo: 'dqn', nSteps: 8 })).toThrow(
      '--n-steps is a a2c setting; it does not apply to --algo dqn',
    );
    expect(resolveRunConfig({ algo: 'dqn', numEnvs: 2, lr: 1e-3 })).toMatchObject({ numEnvs: 2, lr: 1e-3 });
  });

  it('is refused by the CLI with exit code 2 and one line', () => {
    const r = coordrl(['train', '--algo', 'dqn', '--ent-coef', '0.1', '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.stderr.filter((l) => !l.startsWith('(run with'))).toEqual([
      'coordrl: --ent-coef is a a2c setting; it does not apply to --algo dqn',
    ]);
  });
});
