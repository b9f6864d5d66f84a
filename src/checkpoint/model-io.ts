// tfjs LayersModel <-> a directory in the standard tfjs format (model.json + weights.bin), written
// and read with our own file I/O: no dependence on tfjs-node's file:// handler (not atomic, and
// absent on the pure-JS backend). The files load with tf.loadLayersModel('file://.../model.json')
// too, where tfjs-node is present. Atomicity comes from the checkpoint (src/checkpoint).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tf } from '../tf.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

function toArrayBuffer(data: ArrayBuffer | ArrayBuffer[]): ArrayBuffer {
  return tf.io.CompositeArrayBuffer.join(data);
}

/**
 * Saves `model` as dir/model.json + dir/weights.bin (dir is created). Returns the files written.
 * The optimizer is not included: save it with saveOptimizerState.
 */
export async function saveModelToDir(model: tf.LayersModel, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  let written: string[] = [];
  await model.save(
    tf.io.withSaveHandler(async (artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error('saveModelToDir: binary model topology is not supported');
      }
      const weightData = artifacts.weightData === undefined ? new ArrayBuffer(0) : toArrayBuffer(artifacts.weightData);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig != null) modelJson.trainingConfig = artifacts.trainingConfig;
      if (artifacts.signature != null) modelJson.signature = artifacts.signature;
      if (artifacts.userDefinedMetadata != null) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
      if (artifacts.modelInitializer != null) modelJson.modelInitializer = artifacts.modelInitializer;
      await writeFile(path.join(dir, WEIGHTS_BIN), new Uint8Array(weightData));
      await writeFile(path.join(dir, MODEL_JSON), JSON.stringify(modelJson));
      written = [MODEL_JSON, WEIGHTS_BIN];
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
          weightDataBytes: weightData.byteLength,
        },
      };
    }),
    { includeOptimizer: false },
  );
  return written;
}

/**
 * Loads a model saved by saveModelToDir (or any tfjs layers model directory with model.json and
 * its weight files). Custom layers must be registered (tf.serialization.registerClass) first.
 */
export async function loadModelFromDir(dir: string, opts: { strict?: boolean } = {}): Promise<tf.LayersModel> {
  const jsonPath = path.join(dir, MODEL_JSON);
  let modelJson: tf.io.ModelJSON;
  try {
    modelJson = JSON.parse(await readFile(jsonPath, 'utf8')) as tf.io.ModelJSON;
  } catch (e) {
    throw new Error(`cannot read ${jsonPath}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (modelJson.format !== undefined && modelJson.format !== 'layers-model') {
    throw new Error(`${jsonPath} is a '${modelJson.format}' model, not a layers model`);
  }
  const artifacts = await tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
    const specs: tf.io.WeightsManifestEntry[] = [];
    const parts: ArrayBuffer[] = [];
    for (const group of manifest) {
      specs.push(...group.weights);
      for (const p of group.paths) {
        if (p.includes('..') || path.isAbsolute(p)) throw new Error(`${jsonPath}: bad weights path ${p}`);
        const buf = await readFile(path.join(dir, p));
        parts.push(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
      }
    }
    return [specs, toArrayBuffer(parts)];
  });
  return tf.loadLayersModel(tf.io.fromMemory(artifacts), { strict: opts.strict ?? true });
}
