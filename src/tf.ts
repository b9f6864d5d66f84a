// The single way this package imports TensorFlow.js: one tfjs-core, one registry of layers
// and backends. Native backends are loaded by src/backend.ts into this same instance.
export * as tf from '@tensorflow/tfjs';
