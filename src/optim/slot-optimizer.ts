// The common part of this package's optimizers (FusedAdam, RMSpropTF): per-variable slot state,
// matched to the variables by position, saved and restored through getWeights/setWeights in the
// layout the checkpoint module expects ([iter, slot0 of every variable, slot1 of every variable, ...]),
// and two ways to step:
//
// - native (tfjs-node): parameters are mirrored in TensorFlow resource variables and updated in
//   place by one fused kernel per variable (see src/native/tf-native.ts for why and how much);
// - tfjs ops (pure-JS backend, or COORDRL_NO_FUSED_KERNELS=1): the same formula as tfjs ops.
//
// The tfjs Variable stays the source of truth: after a native step it holds the read-back value,
// and if anything else changed it (setWeights, a target-network copy, a restore) the mirror is
// refreshed before the next step, detected by the variable's data id.
import { type NativeOps, nativeOps } from '../native/tf-native.js';
import { tf } from '../tf.js';

type NamedTensor = { name: string; tensor: tf.Tensor };

/**
 * Slots held outside this object, by a compiled training step (src/compiled/): it reads them for
 * checkpoints and takes restored values at once.
 */
export interface ExternalSlots {
  /** Saved slots per variable (fresh tensors), in slotNames order. */
  read(): tf.Tensor[][];
  /** Replaces the slot values (saved slots per variable, in slotNames order). */
  load(perVar: tf.Tensor[][]): void;
}

/** One variable's native state: the parameter mirror and the slots, all resource handles. */
interface NativeEntry {
  param: tf.Tensor;
  slots: tf.Tensor[];
  /** The variable's data id right after our last read-back (unchanged => mirror is current). */
  syncedDataId: object | null;
}

export abstract class SlotOptimizer extends tf.Optimizer {
  /** Saved slots, in getWeights order, e.g. ['m', 'v']. */
  protected abstract readonly slotNames: readonly string[];
  /** Initial value of saved slot k for a variable. */
  protected abstract initSlot(k: number, variable: tf.Tensor): tf.Tensor;
  /** Native scratch slots that are not state worth saving (RMSProp's momentum buffer at 0 momentum). */
  protected readonly scratchSlots: number = 0;

  /** One native in-place step of variable i (inside tf.tidy). */
  protected abstract stepNative(ops: NativeOps, entry: { param: tf.Tensor; slots: tf.Tensor[] }, grad: tf.Tensor): void;
  /** One step with tfjs ops: returns the new parameter and new saved slots (inside tf.tidy). */
  protected abstract stepOps(
    param: tf.Tensor,
    slots: tf.Tensor[],
    grad: tf.Tensor,
  ): { param: tf.Tensor; slots: tf.Tensor[] };
  /** Per-update scalars shared by every variable's step (created inside tf.tidy). */
  protected abstract beginUpdate(): void;
  /** False where no fused kernel computes this optimizer's formula: it then steps with tfjs ops everywhere. */
  protected nativeStepsAvailable(): boolean {
    return true;
  }

  private native: NativeEntry[] = [];
  private jsSlots: tf.Variable[][] = [];
  /** Restored slot values waiting for the first step (before it, the native mirrors don't exist). */
  private pendingSlots: tf.Tensor[][] | null = null;
  private external: ExternalSlots | null = null;

  /** Saved slot names, e.g. ['m', 'v']. */
  get savedSlotNames(): readonly string[] {
    return this.slotNames;
  }

  /**
   * Hands the slots of `vars` to a compiled step: returns their current values (per variable,
   * saved slots in slotNames order; fresh tensors for the caller) and from then on reads and
   * restores them through `store`.
   */
  adoptSlots(vars: tf.Variable[], store: ExternalSlots): tf.Tensor[][] {
    const ops = nativeOps();
    const perVar = vars.map((v, i) => {
      const e = this.native[i];
      if (e && ops) return e.slots.slice(0, this.slotNames.length).map((h) => ops.readVariable(h));
      const js = this.jsSlots[i];
      if (js) return js.map((s) => s.clone());
      return this.initialSlots(i, v);
    });
    this.disposeSlots();
    this.external = store;
    return perVar;
  }

  /** Counts one step taken outside applyGradients (by a compiled step). */
  countStep(): void {
    this.incrementIterations();
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const named = Array.isArray(variableGradients)
      ? variableGradients
      : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name] }));
    const ops = this.nativeStepsAvailable() ? nativeOps() : null;
    tf.tidy(() => {
      this.beginUpdate();
      named.forEach(({ name, tensor: grad }, i) => {
        const variable = tf.engine().registeredVariables[name];
        if (!variable) throw new Error(`${this.getClassName()}: no variable named '${name}'`);
        if (grad == null) return;
        if (ops) this.nativeStep(ops, i, variable, grad);
        else this.opsStep(i, variable, grad);
      });
    });
    this.incrementIterations();
  }

  private initialSlots(i: number, variable: tf.Variable): tf.Tensor[] {
    const pending = this.pendingSlots?.[i];
    return this.slotNames.map((_, k) => (pending ? pending[k].clone() : this.initSlot(k, variable)));
  }

  private nativeStep(ops: NativeOps, i: number, variable: tf.Variable, grad: tf.Tensor): void {
    let e = this.native[i];
    if (!e) {
      // Handles must outlive the tidy scope of the update that creates them.
      const slots = this.initialSlots(i, variable).map((t) => tf.keep(ops.createVariable(t)));
      for (let k = 0; k < this.scratchSlots; k++) slots.push(tf.keep(ops.createVariable(tf.zerosLike(variable))));
      e = { param: tf.keep(ops.createVariable(variable)), slots, syncedDataId: variable.dataId };
      this.native[i] = e;
      if (this.native.length === this.pendingSlots?.length) this.releasePending();
    } else if (e.syncedDataId !== variable.dataId) {
      ops.assignVariable(e.param, variable);
    }
    this.stepNative(ops, e, grad);
    variable.assign(ops.readVariable(e.param));
    e.syncedDataId = variable.dataId;
  }

  private opsStep(i: number, variable: tf.Variable, grad: tf.Tensor): void {
    this.jsSlots[i] ??= this.initialSlots(i, variable).map((t) => t.variable(false));
    if (this.jsSlots.length === this.pendingSlots?.length) this.releasePending();
    const slots = this.jsSlots[i];
    const next = this.stepOps(variable, slots, grad);
    slots.forEach((s, k) => {
      s.assign(next.slots[k]);
    });
    variable.assign(next.param);
  }

  private releasePending(): void {
    if (this.pendingSlots) for (const p of this.pendingSlots) tf.dispose(p);
    this.pendingSlots = null;
  }

  /**
   * [iter, slot 0 of every variable, slot 1 of every variable, ...]. Slots held as tf.Variables
   * (ops mode) are returned as they are; all other tensors are fresh and belong to the caller.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const iter = await this.saveIterations();
    const ops = nativeOps();
    let perVar: tf.Tensor[][] = [];
    if (this.external) {
      perVar = this.external.read();
    } else if (this.native.length > 0) {
      if (!ops) throw new Error(`${this.getClassName()}: native slots but the TensorFlow backend is gone`);
      perVar = this.native.map((e) => e.slots.slice(0, this.slotNames.length).map((h) => ops.readVariable(h)));
    } else if (this.jsSlots.length > 0) {
      perVar = this.jsSlots;
    } else if (this.pendingSlots) {
      perVar = this.pendingSlots.map((p) => p.map((t) => t.clone()));
    }
    const out: NamedTensor[] = [iter];
    this.slotNames.forEach((slot, k) => {
      perVar.forEach((slots, i) => {
        out.push({ name: `${i}/${slot}`, tensor: slots[k] });
      });
    });
    return out;
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    const K = this.slotNames.length;
    if (rest.length % K !== 0) {
      throw new Error(`${this.getClassName()}.setWeights: ${rest.length} slot tensors, not a multiple of ${K}`);
    }
    const V = rest.length / K;
    const perVar: tf.Tensor[][] = [];
    for (let i = 0; i < V; i++) perVar.push(this.slotNames.map((_, k) => rest[k * V + i].tensor.clone()));
    if (this.external) {
      this.external.load(perVar);
      tf.dispose(perVar);
      return;
    }
    this.disposeSlots();
    // Slots are (re)built from these at the next step, in the mode (native or ops) it runs in.
    this.pendingSlots = perVar.length > 0 ? perVar : null;
  }

  private disposeSlots(): void {
    for (const e of this.native) tf.dispose([e.param, ...e.slots]);
    for (const s of this.jsSlots) tf.dispose(s);
    this.releasePending();
    this.native = [];
    this.jsSlots = [];
  }

  override dispose(): void {
    this.disposeSlots();
    super.dispose();
  }
}
