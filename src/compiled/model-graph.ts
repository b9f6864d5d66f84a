// A tfjs LayersModel rebuilt as graph ops: the model stays defined once, with tfjs layers, and
// this walks its layers in order, reading each weight from the graph mirror of its tfjs variable.
// Covers the layers the torsos and heads use (Dense, Conv2D, CoordConv2D, AddCoords, Flatten,
// Rescaling, Activation); anything else throws UncompilableModelError and the caller stays eager.
import { coordChannelCount, coordinateValues } from '../layers/coordconv.js';
import type { tf } from '../tf.js';
import { DT, type Graph, type Out } from './graph.js';

export class UncompilableModelError extends Error {
  override name = 'UncompilableModelError';
}

/** The parts of a tfjs layer's topology used here (public fields of tfjs's Layer and Node). */
interface LayerNode {
  inputTensors: { id: number }[];
  outputTensors: { id: number }[];
}
type TopoLayer = tf.layers.Layer & { inboundNodes: LayerNode[] };

/**
 * The model's outputs as float32 graph outputs, given its float32 input and how to read a weight.
 * `compute` 'bf16': mixed precision, as PyTorch's autocast does it: the input and each weight read
 * are cast to bfloat16, every layer runs in bfloat16 (oneDNN's AMX/AVX512-BF16 kernels for the
 * convolutions and matmuls), and the outputs are cast back, so losses, gradients reaching the fp32
 * variables (through the Casts' gradients) and the optimizer stay float32.
 */
export function buildForward(
  g: Graph,
  model: tf.LayersModel,
  input: Out,
  readWeight: (v: tf.Variable) => Out,
  compute: 'fp32' | 'bf16' = 'fp32',
): Out[] {
  if (model.inputs.length !== 1) throw new UncompilableModelError('only single-input models compile');
  const t = compute === 'bf16' ? DT.bfloat16 : DT.float;
  const toT = (x: Out): Out => (t === DT.float ? x : g.cast(x, DT.float, t));
  const read = (v: tf.Variable): Out => toT(readWeight(v));
  const values = new Map<number, Out>([[model.inputs[0].id, toT(input)]]);
  for (const layer of model.layers as TopoLayer[]) {
    if (layer.getClassName() === 'InputLayer') continue;
    if (layer.inboundNodes.length !== 1) throw new UncompilableModelError(`layer ${layer.name} is shared`);
    const node = layer.inboundNodes[0];
    const x = values.get(node.inputTensors[0]?.id ?? -1);
    if (node.inputTensors.length !== 1 || !x)
      throw new UncompilableModelError(`layer ${layer.name}: one input expected`);
    values.set(node.outputTensors[0].id, compileLayer(g, layer, x, read, t));
  }
  return model.outputs.map((o) => {
    const v = values.get(o.id);
    if (!v) throw new UncompilableModelError('model output not reached');
    return t === DT.float ? v : g.cast(v, t, DT.float);
  });
}

function weightsOf(layer: tf.layers.Layer, readWeight: (v: tf.Variable) => Out): { kernel: Out; bias: Out | null } {
  const cfg = layer.getConfig();
  const ws = layer.weights.map((w) => readWeight(w.read() as tf.Variable));
  const useBias = cfg.useBias !== false;
  if (ws.length !== (useBias ? 2 : 1)) throw new UncompilableModelError(`layer ${layer.name}: unexpected weights`);
  return { kernel: ws[0], bias: useBias ? ws[1] : null };
}

function activation(g: Graph, x: Out, name: unknown, layer: string, t: number): Out {
  if (name === undefined || name === null || name === 'linear') return x;
  if (name === 'relu') return g.out('Relu', [x], [['T', 'type', t]]);
  if (name === 'tanh') return g.out('Tanh', [x], [['T', 'type', t]]);
  throw new UncompilableModelError(`layer ${layer}: activation ${String(name)} is not compiled`);
}

function pair(v: unknown): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2) return [Number(v[0]), Number(v[1])];
  throw new UncompilableModelError(`expected a number or a pair, got ${JSON.stringify(v)}`);
}

/** AddCoords in NHWC: the constant coordinate map broadcast over the batch, appended as channels. */
function addCoords(g: Graph, x: Out, withR: boolean, layer: string, t: number): Out {
  const shape = g.shape(x);
  if (shape?.length !== 4 || shape.slice(1).some((d) => d < 0)) {
    throw new UncompilableModelError(`layer ${layer}: AddCoords needs a known [h, w, c]`);
  }
  const [, h, w] = shape;
  const c = coordChannelCount(withR);
  const coords32 = g.constF(coordinateValues(h, w, withR, 'channelsLast'), [1, h, w, c]);
  const coords = t === DT.float ? coords32 : g.cast(coords32, DT.float, t);
  const batch = g.out(
    'Slice',
    [
      g.out(
        'Shape',
        [x],
        [
          ['out_type', 'type', DT.int32],
          ['T', 'type', t],
        ],
      ),
      g.constI([0]),
      g.constI([1]),
    ],
    [
      ['T', 'type', DT.int32],
      ['Index', 'type', DT.int32],
    ],
  );
  const target = g.out(
    'ConcatV2',
    [[batch, g.constI([h, w, c])], g.constI([0], [])],
    [
      ['N', 'int', 2],
      ['T', 'type', DT.int32],
      ['Tidx', 'type', DT.int32],
    ],
  );
  const tiled = g.out(
    'BroadcastTo',
    [coords, target],
    [
      ['T', 'type', t],
      ['Tidx', 'type', DT.int32],
    ],
  );
  return g.out(
    'ConcatV2',
    [[x, tiled], g.constI([3], [])],
    [
      ['N', 'int', 2],
      ['T', 'type', t],
      ['Tidx', 'type', DT.int32],
    ],
  );
}

/** One layer's ops, all of element type `t` (DT.float or DT.bfloat16). */
function compileLayer(g: Graph, layer: tf.layers.Layer, x: Out, readWeight: (v: tf.Variable) => Out, t: number): Out {
  const cls = layer.getClassName();
  const cfg = layer.getConfig();
  const biasAdd = (y: Out, b: Out) =>
    g.out(
      'BiasAdd',
      [y, b],
      [
        ['T', 'type', t],
        ['data_format', 'string', 'NHWC'],
      ],
    );
  const scalar = (v: number) => (t === DT.float ? g.constF(v) : g.cast(g.constF(v), DT.float, t));
  switch (cls) {
    case 'Dense': {
      const { kernel, bias } = weightsOf(layer, readWeight);
      if (g.shape(x)?.length !== 2) throw new UncompilableModelError(`layer ${layer.name}: Dense on rank != 2`);
      const y = g.out(
        'MatMul',
        [x, kernel],
        [
          ['T', 'type', t],
          ['transpose_a', 'bool', false],
          ['transpose_b', 'bool', false],
        ],
      );
      return activation(g, bias ? biasAdd(y, bias) : y, cfg.activation, layer.name, t);
    }
    case 'Conv2D':
    case 'CoordConv2D': {
      if ((cfg.dataFormat ?? 'channelsLast') !== 'channelsLast') {
        throw new UncompilableModelError(`layer ${layer.name}: only channels-last convolutions compile`);
      }
      const [sh, sw] = pair(cfg.strides ?? 1);
      const [dh, dw] = pair(cfg.dilationRate ?? 1);
      const padding = cfg.padding === 'same' ? 'SAME' : cfg.padding === 'valid' ? 'VALID' : null;
      if (!padding) throw new UncompilableModelError(`layer ${layer.name}: padding ${String(cfg.padding)}`);
      const input = cls === 'CoordConv2D' ? addCoords(g, x, cfg.withR === true, layer.name, t) : x;
      const { kernel, bias } = weightsOf(layer, readWeight);
      const y = g.out(
        'Conv2D',
        [input, kernel],
        [
          ['T', 'type', t],
          ['strides', 'ints', [1, sh, sw, 1]],
          ['padding', 'string', padding],
          ['data_format', 'string', 'NHWC'],
          ['dilations', 'ints', [1, dh, dw, 1]],
          ['use_cudnn_on_gpu', 'bool', true],
        ],
      );
      return activation(g, bias ? biasAdd(y, bias) : y, cfg.activation, layer.name, t);
    }
    case 'AddCoords':
      if ((cfg.dataFormat ?? 'channelsLast') !== 'channelsLast') {
        throw new UncompilableModelError(`layer ${layer.name}: only channels-last AddCoords compiles`);
      }
      return addCoords(g, x, cfg.withR === true, layer.name, t);
    case 'Flatten': {
      const shape = g.shape(x);
      if (!shape || shape.slice(1).some((d) => d < 0))
        throw new UncompilableModelError(`layer ${layer.name}: unknown shape`);
      return g.reshape(x, [-1, shape.slice(1).reduce((a, b) => a * b, 1)], t);
    }
    case 'Rescaling': {
      const scale = Number(cfg.scale ?? 1);
      const offset = Number(cfg.offset ?? 0);
      const y = g.out('Mul', [x, scalar(scale)], [['T', 'type', t]]);
      return offset === 0 ? y : g.out('AddV2', [y, scalar(offset)], [['T', 'type', t]]);
    }
    case 'Activation':
      return activation(g, x, cfg.activation, layer.name, t);
    default:
      throw new UncompilableModelError(`layer ${layer.name} (${cls}) is not compiled`);
  }
}
