// The optimizer step inside a compiled graph: the same fused TensorFlow kernels the eager native
// path uses (ResourceApplyAdam / ResourceApplyRMSProp / ResourceApplyCenteredRMSProp, see
// src/optim/), on slots that live in the graph. PyTorch's centered RMSprop (epsilon outside the
// root) has no fused kernel: its step is centeredRmspropStep (src/optim/centered-rmsprop.ts), the
// one formula the eager tfjs-ops step also runs, built on graph nodes. The SlotOptimizer object keeps its role for checkpoints: it reads and
// restores these slots through ExternalSlots, and counts the steps (Adam's bias correction follows
// its count).

import { FusedAdam } from '../optim/adam.js';
import { CenteredRMSprop, centeredRmspropStep } from '../optim/centered-rmsprop.js';
import { RMSpropTF } from '../optim/rmsprop-tf.js';
import type { SlotOptimizer } from '../optim/slot-optimizer.js';
import { tf } from '../tf.js';
import { DT, type Out } from './graph.js';
import { graphOps } from './graph-ops.js';
import { UncompilableModelError } from './model-graph.js';
import type { CompiledRuntime, GraphVariable } from './runtime.js';

type TensorFeed = [Out, [number, number[], Float32Array]];

// Not `instanceof`: tfjs's Optimizer answers it for any object with an optimizer's methods.
const isAdam = (o: SlotOptimizer): o is FusedAdam => o.getClassName() === FusedAdam.className;
const isRMSprop = (o: SlotOptimizer): o is RMSpropTF => o.getClassName() === RMSpropTF.className;
const isCentered = (o: SlotOptimizer): o is CenteredRMSprop => o.getClassName() === CenteredRMSprop.className;

export interface CompiledOptimizerStep {
  /** The apply operations (run them as targets; reads after them see the new weights). */
  applies: number[];
  /** The per-step scalar feeds (learning rate, bias corrections), computed at call time. */
  feeds(): TensorFeed[];
}

/** Builds `optimizer`'s step for `params` with `grads` and takes over its slots. */
export function compileOptimizerStep(
  rt: CompiledRuntime,
  optimizer: SlotOptimizer,
  vars: tf.Variable[],
  params: GraphVariable[],
  grads: Out[],
): CompiledOptimizerStep {
  const g = rt.g;
  const scalar = () => g.placeholder(DT.float, []);
  const feed = (o: Out, v: number): TensorFeed => [o, [DT.float, [], new Float32Array([v])]];
  const slotVars = params.map((p) => optimizer.savedSlotNames.map(() => rt.newVariable(p.shape)));
  const scratch = isRMSprop(optimizer) ? params.map((p) => rt.newVariable(p.shape)) : [];

  let applies: number[];
  let feeds: () => TensorFeed[];
  if (isAdam(optimizer)) {
    const [b1p, b2p, lr, eps] = [scalar(), scalar(), scalar(), scalar()];
    const b1 = g.constF(optimizer.beta1);
    const b2 = g.constF(optimizer.beta2);
    applies = params.map((p, i) =>
      g.op(
        'ResourceApplyAdam',
        [p.handle, slotVars[i][0].handle, slotVars[i][1].handle, b1p, b2p, lr, b1, b2, eps, grads[i]],
        [
          ['T', 'type', DT.float],
          ['use_locking', 'bool', false],
          ['use_nesterov', 'bool', false],
        ],
      ),
    );
    feeds = () => {
      const s = optimizer.nextStepScalars();
      return [feed(b1p, s.beta1Power), feed(b2p, s.beta2Power), feed(lr, s.lr), feed(eps, s.eps)];
    };
  } else if (isRMSprop(optimizer)) {
    const lr = scalar();
    const rho = g.constF(optimizer.decay);
    const momentum = g.constF(0);
    const eps = g.constF(optimizer.epsilon);
    applies = params.map((p, i) =>
      g.op(
        'ResourceApplyRMSProp',
        [p.handle, slotVars[i][0].handle, scratch[i].handle, lr, rho, momentum, eps, grads[i]],
        [
          ['T', 'type', DT.float],
          ['use_locking', 'bool', false],
        ],
      ),
    );
    feeds = () => [feed(lr, optimizer.learningRate)];
  } else if (isCentered(optimizer)) {
    // Saved slots in the optimizer's order: [ms, mg, mom] (the checkpoint layout stays the eager one).
    const lr = scalar();
    const [a, mu, epsilon] = [optimizer.decay, optimizer.momentum, optimizer.epsilon];
    if (optimizer.epsilonInside) {
      const [rho, momentum, eps] = [g.constF(a), g.constF(mu), g.constF(epsilon)];
      applies = params.map((p, i) => {
        const [ms, mg, mom] = slotVars[i];
        return g.op(
          'ResourceApplyCenteredRMSProp',
          [p.handle, mg.handle, ms.handle, mom.handle, lr, rho, momentum, eps, grads[i]],
          [
            ['T', 'type', DT.float],
            ['use_locking', 'bool', false],
          ],
        );
      });
    } else {
      // PyTorch's form has no fused kernel: the eager CenteredRMSprop's formula (centeredRmspropStep)
      // on graph nodes. The slot reads feed the assigns, so they see the values from before this step.
      const consts = {
        decay: g.constF(a),
        oneMinusDecay: g.constF(1 - a),
        momentum: g.constF(mu),
        epsilon: g.constF(epsilon),
        lr,
      };
      const ops = graphOps(g);
      const assign = (v: GraphVariable, value: Out) =>
        g.op('AssignVariableOp', [v.handle, value], [['dtype', 'type', DT.float]]);
      applies = params.flatMap((p, i) => {
        const [ms, mg, mom] = slotVars[i];
        const next = centeredRmspropStep(
          ops,
          { ms: ms.read, mg: mg.read, mom: mom.read, grad: grads[i] },
          consts,
          false,
        );
        return [
          assign(ms, next.ms),
          assign(mg, next.mg),
          assign(mom, next.mom),
          g.op('AssignSubVariableOp', [p.handle, next.mom], [['dtype', 'type', DT.float]]),
        ];
      });
    }
    feeds = () => [feed(lr, optimizer.learningRate)];
  } else {
    throw new UncompilableModelError(`optimizer ${optimizer.getClassName()} is not compiled`);
  }

  const upload = (perVar: tf.Tensor[][]) => {
    const values: [GraphVariable, Float32Array][] = [];
    perVar.forEach((slots, i) => {
      slots.forEach((t, k) => {
        values.push([slotVars[i][k], t.dataSync() as Float32Array]);
      });
    });
    scratch.forEach((s) => {
      values.push([s, new Float32Array(s.shape.reduce((a, b) => a * b, 1))]);
    });
    rt.upload(values);
  };
  const reads = slotVars.flat().map((s) => s.read);
  const initial = optimizer.adoptSlots(vars, {
    read: () => {
      const out = rt.g.run([], reads);
      const K = optimizer.savedSlotNames.length;
      return params.map((p, i) =>
        optimizer.savedSlotNames.map((_, k) => tf.tensor(out[i * K + k][0] as Float32Array, p.shape, 'float32')),
      );
    },
    load: upload,
  });
  upload(initial);
  tf.dispose(initial);
  return { applies, feeds };
}
