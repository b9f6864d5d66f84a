// Optimizer state for exact resume: tfjs saves no optimizer state when training with
// optimizer.minimize/applyGradients (model.save has nothing to save), so it is taken from
// optimizer.getWeights() and put back with setWeights(), plus what getWeights() leaves out:
// Adam's running powers beta1^t and beta2^t (setWeights recomputes them with pow(), which differs
// in the last bits from the running product the optimizer really uses). Format: <name>.json (a
// header) + <name>.bin (the slot tensors, raw little-endian, in getWeights() order).
//
// Slots are matched by POSITION (tfjs creates them in the order of the variables of the first
// update): always train with the same explicit varList, and restore with the same varList order.
// The variable shapes are recorded and checked at restore; names are informational (tfjs numbers
// layers per process, so they differ between runs).
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tf } from '../tf.js';

export const OPTIMIZER_STATE_FORMAT = 'coordrl-optimizer-state';
export const OPTIMIZER_STATE_VERSION = 1;

export interface OptimizerStateHeader {
  format: typeof OPTIMIZER_STATE_FORMAT;
  version: number;
  /** tfjs class name: 'Adam', 'RMSProp', ... */
  className: string;
  /** optimizer.getConfig() (learning rate, betas, ...). */
  config: Record<string, unknown>;
  iterations: number;
  /** Hidden state that getWeights() does not return (Adam: accBeta1, accBeta2, float32 values). */
  extra: Record<string, number>;
  varShapes: number[][];
  varNames: string[];
  /** The slot tensors after the iteration counter, in getWeights() order. */
  weights: { name: string; shape: number[]; dtype: 'float32' | 'int32'; byteOffset: number; byteLength: number }[];
  byteLength: number;
}

export interface OptimizerState {
  header: OptimizerStateHeader;
  data: Uint8Array;
}

interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
}

function className(optimizer: tf.Optimizer): string {
  return optimizer.getClassName();
}

function hasAdamPowers(optimizer: tf.Optimizer): boolean {
  const o = optimizer as unknown as Partial<AdamInternals>;
  return className(optimizer) === 'Adam' && o.accBeta1 instanceof tf.Variable && o.accBeta2 instanceof tf.Variable;
}

function checkSlots(what: string, slotShapes: number[][], varShapes: number[][]): void {
  if (slotShapes.length === 0) return; // not stepped yet: no slots
  const V = varShapes.length;
  if (V === 0 || slotShapes.length % V !== 0) {
    throw new Error(
      `${what}: the optimizer has ${slotShapes.length} slot variables, not a multiple of the ${V} variables of varList ` +
        '(was it trained with another varList?)',
    );
  }
  slotShapes.forEach((s, i) => {
    const v = varShapes[i % V];
    if (s.length !== v.length || s.some((d, k) => d !== v[k])) {
      throw new Error(
        `${what}: optimizer slot ${i} has shape [${s}] but varList[${i % V}] has shape [${v}] ` +
          '(the varList order must be the one used for training)',
      );
    }
  });
}

/**
 * States of another class an optimizer reads as its own: tfjs's Adam saves [iter, m..., v...] with
 * the config {learningRate, beta1, beta2, epsilon}, exactly FusedAdam's layout and meaning (runs
 * from before FusedAdam kept their DQN optimizer state in tfjs's Adam).
 */
const COMPATIBLE_STATES: Record<string, string[]> = { FusedAdam: ['Adam'] };

/** Captures the optimizer's state (slots, iteration count, hidden running values). */
export async function saveOptimizerState(optimizer: tf.Optimizer, varList: tf.Variable[]): Promise<OptimizerState> {
  const named = await optimizer.getWeights();
  if (named.length === 0 || named[0].name !== 'iter') {
    throw new Error(`saveOptimizerState: unexpected getWeights() layout for ${className(optimizer)}`);
  }
  const iterations = (await named[0].tensor.data())[0];
  named[0].tensor.dispose(); // a fresh scalar made by getWeights
  const slots = named.slice(1);
  checkSlots(
    'saveOptimizerState',
    slots.map((s) => s.tensor.shape),
    varList.map((v) => v.shape),
  );
  const weights: OptimizerStateHeader['weights'] = [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const s of slots) {
    const dtype = s.tensor.dtype;
    if (dtype !== 'float32' && dtype !== 'int32')
      throw new Error(`saveOptimizerState: slot ${s.name} has dtype ${dtype}`);
    const values = (await s.tensor.data()) as Float32Array | Int32Array;
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    weights.push({ name: s.name, shape: s.tensor.shape, dtype, byteOffset: offset, byteLength: bytes.byteLength });
    // Slots that are not the optimizer's own variables are fresh reads made for us (FusedAdam and
    // RMSpropTF on the native backend): ours to free.
    if (!(s.tensor instanceof tf.Variable)) s.tensor.dispose();
    parts.push(bytes);
    offset += bytes.byteLength;
  }
  const data = new Uint8Array(offset);
  let o = 0;
  for (const p of parts) {
    data.set(p, o);
    o += p.byteLength;
  }
  const extra: Record<string, number> = {};
  if (hasAdamPowers(optimizer)) {
    const a = optimizer as unknown as AdamInternals;
    extra.accBeta1 = (await a.accBeta1.data())[0];
    extra.accBeta2 = (await a.accBeta2.data())[0];
  }
  const header: OptimizerStateHeader = {
    format: OPTIMIZER_STATE_FORMAT,
    version: OPTIMIZER_STATE_VERSION,
    className: className(optimizer),
    config: optimizer.getConfig() as Record<string, unknown>,
    iterations,
    extra,
    varShapes: varList.map((v) => v.shape),
    varNames: varList.map((v) => v.name),
    weights,
    byteLength: offset,
  };
  return { header, data };
}

/**
 * Puts a saved state into `optimizer` (best a fresh one, of the same class and config, for the
 * same model architecture). `varList` must list the variables in the order used for training.
 * `ignoreConfig` allows a different config (e.g. another learning rate).
 */
export async function restoreOptimizerState(
  optimizer: tf.Optimizer,
  varList: tf.Variable[],
  state: OptimizerState,
  opts: { ignoreConfig?: boolean } = {},
): Promise<void> {
  const h = state.header;
  if (h?.format !== OPTIMIZER_STATE_FORMAT) throw new Error('restoreOptimizerState: not an optimizer state');
  if (h.version !== OPTIMIZER_STATE_VERSION) {
    throw new Error(
      `restoreOptimizerState: optimizer state format version ${h.version}; this build reads ${OPTIMIZER_STATE_VERSION}`,
    );
  }
  if (h.className !== className(optimizer) && !COMPATIBLE_STATES[className(optimizer)]?.includes(h.className)) {
    throw new Error(`restoreOptimizerState: the state is for ${h.className}, the optimizer is ${className(optimizer)}`);
  }
  if (!opts.ignoreConfig) {
    const now = JSON.stringify(optimizer.getConfig());
    const was = JSON.stringify(h.config);
    if (now !== was) throw new Error(`restoreOptimizerState: optimizer config ${now} differs from the saved ${was}`);
  }
  const varShapes = varList.map((v) => v.shape);
  if (h.varShapes.length !== varShapes.length) {
    throw new Error(
      `restoreOptimizerState: saved for ${h.varShapes.length} variables, varList has ${varShapes.length}`,
    );
  }
  checkSlots('restoreOptimizerState', h.varShapes, varShapes);
  checkSlots(
    'restoreOptimizerState',
    h.weights.map((w) => w.shape),
    varShapes,
  );
  if (state.data.byteLength !== h.byteLength) {
    throw new Error(`restoreOptimizerState: data has ${state.data.byteLength} bytes, the header says ${h.byteLength}`);
  }
  const tensors: { name: string; tensor: tf.Tensor }[] = [{ name: 'iter', tensor: tf.scalar(h.iterations, 'int32') }];
  for (const w of h.weights) {
    const bytes = state.data.slice(w.byteOffset, w.byteOffset + w.byteLength);
    const values = w.dtype === 'float32' ? new Float32Array(bytes.buffer) : new Int32Array(bytes.buffer);
    tensors.push({ name: w.name, tensor: tf.tensor(values, w.shape, w.dtype) });
  }
  // Slots this optimizer already had (none for a fresh one) are replaced: dispose them after.
  const old = await optimizer.getWeights();
  await optimizer.setWeights(tensors);
  for (const t of tensors) t.tensor.dispose();
  for (const o of old) o.tensor.dispose();
  if (hasAdamPowers(optimizer) && h.extra.accBeta1 !== undefined && h.extra.accBeta2 !== undefined) {
    const a = optimizer as unknown as AdamInternals;
    tf.tidy(() => {
      a.accBeta1.assign(tf.scalar(h.extra.accBeta1, 'float32'));
      a.accBeta2.assign(tf.scalar(h.extra.accBeta2, 'float32'));
    });
  }
}

/** Writes `<name>.json` and `<name>.bin` into dir. */
export async function writeOptimizerState(dir: string, state: OptimizerState, name = 'optimizer'): Promise<void> {
  await writeFile(path.join(dir, `${name}.bin`), state.data);
  await writeFile(path.join(dir, `${name}.json`), `${JSON.stringify(state.header, null, 2)}\n`);
}

export async function readOptimizerState(dir: string, name = 'optimizer'): Promise<OptimizerState> {
  const jsonPath = path.join(dir, `${name}.json`);
  let header: OptimizerStateHeader;
  try {
    header = JSON.parse(await readFile(jsonPath, 'utf8')) as OptimizerStateHeader;
  } catch (e) {
    throw new Error(`cannot read ${jsonPath}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const buf = await readFile(path.join(dir, `${name}.bin`));
  return { header, data: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) };
}
