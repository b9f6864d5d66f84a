// The layering rule of docs/architecture.md: arrows point downwards. src/commands/ (the CLI) sits
// on top and may import anything; nothing below it (src/ other than src/cli.ts, envs/, agents/)
// may import from src/commands/, or a report would pull in a CLI command and what it loads. And
// every module (a folder of src/, a top-level file of src/, envs/, agents/) sits in one layer of
// LAYERS and imports only from layers below its own: no cycles between modules.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const COMMANDS = path.join(ROOT, 'src', 'commands');
/** The only files besides src/commands/* that may import from src/commands/: the CLI's entry. */
const ALLOWED = new Set([path.join(ROOT, 'src', 'cli.ts')]);

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Relative module specifiers of static imports, re-exports and dynamic imports in `source`. */
function importSpecifiers(source: string): string[] {
  const out: string[] = [];
  const patterns = [
    /\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1]);
  return out.filter((s) => s.startsWith('.'));
}

/** `file: specifier` for every import of `file` that resolves into src/commands/. */
function upwardImports(file: string): string[] {
  return importSpecifiers(readFileSync(file, 'utf8'))
    .filter((s) => {
      const target = path.resolve(path.dirname(file), s);
      return target === COMMANDS || target.startsWith(COMMANDS + path.sep);
    })
    .map((s) => `${path.relative(ROOT, file)}: ${s}`);
}

const scanned = ['src', 'envs', 'agents'].flatMap((d) => tsFiles(path.join(ROOT, d)));

/** docs/architecture.md's layers, lowest first. A module imports only modules of lower layers. */
const LAYERS: string[][] = [
  ['src/tf', 'src/version'],
  ['src/util'],
  ['src/native', 'src/layers', 'src/init', 'src/stats', 'src/replay', 'src/checkpoint', 'envs'],
  ['src/backend', 'src/ops', 'src/torsos', 'src/toy'],
  ['src/optim'],
  ['src/compiled'],
  ['src/config', 'src/agent'],
  ['src/onpolicy', 'src/rollout', 'src/presets'],
  ['agents'],
  ['src/algorithms'],
  ['src/run-config'],
  ['src/training'],
  ['src/experiments', 'src/bench'],
  ['src/report'],
  ['src/commands', 'src/index'],
  ['src/cli'],
];

/** The module of a file: src/<folder>, src/<file> without .ts, or the top-level folder (envs, agents). */
function moduleOf(file: string): string {
  const parts = path.relative(ROOT, file).split(path.sep);
  if (parts[0] !== 'src') return parts[0];
  return parts.length > 2 ? `src/${parts[1]}` : `src/${parts[1].replace(/\.(ts|js)$/, '')}`;
}

const layerOf = new Map(LAYERS.flatMap((mods, i) => mods.map((m) => [m, i] as const)));

describe('module layering', () => {
  it('puts every module in a layer and imports only from lower layers', () => {
    const modules = new Set(scanned.map(moduleOf));
    expect([...modules].filter((m) => !layerOf.has(m))).toEqual([]);
    const wrong = scanned.flatMap((file) => {
      const from = moduleOf(file);
      return importSpecifiers(readFileSync(file, 'utf8'))
        .map((s) => moduleOf(path.resolve(path.dirname(file), s).replace(/\.js$/, '.ts')))
        .filter((to) => to !== from && layerOf.has(to) && (layerOf.get(to) as number) >= (layerOf.get(from) as number))
        .map((to) => `${path.relative(ROOT, file)} (${from}) imports ${to}`);
    });
    expect(wrong).toEqual([]);
    // The scan sees real imports: agents/ imports the agent contract from below.
    expect(importSpecifiers(readFileSync(path.join(ROOT, 'agents', 'a2c.ts'), 'utf8'))).toContain('../src/agent.js');
  });

  it('finds the imports it looks for (src/cli.ts imports the commands)', () => {
    // Guards the scan itself: were the patterns or paths wrong, the rule below would pass vacuously.
    expect(upwardImports(path.join(ROOT, 'src', 'cli.ts')).length).toBeGreaterThan(0);
    expect(
      importSpecifiers("import { a } from '../x.js';\nconst m = await import('./y.js');\nimport './z.js';"),
    ).toEqual(['../x.js', './y.js', './z.js']);
  });

  it('nothing below src/commands/ imports from it', () => {
    const below = scanned.filter((f) => !f.startsWith(COMMANDS + path.sep) && !ALLOWED.has(f));
    expect(below.length).toBeGreaterThan(50);
    expect(below.flatMap(upwardImports)).toEqual([]);
  });
});
