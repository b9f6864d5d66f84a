// Checkpoint I/O for exact resume: atomic verified checkpoint directories, tfjs models in the
// standard format without tfjs-node's file handler, and optimizer state.
export {
  BEST_LINK,
  CHECKPOINT_FORMAT,
  CHECKPOINT_FORMAT_VERSION,
  CheckpointError,
  type CheckpointInfo,
  type CheckpointManifest,
  type CheckpointStatus,
  checkpointName,
  checkpointsDir,
  describeSkipped,
  findBestCheckpoint,
  type LoadLatestResult,
  listCheckpoints,
  loadLatestGood,
  MANIFEST_FILE,
  type ManifestFileEntry,
  pruneCheckpoints,
  type SaveCheckpointOptions,
  type SaveCheckpointResult,
  type SkippedCheckpoint,
  saveCheckpoint,
  type VerifyMode,
  verifyCheckpoint,
} from './checkpoint.js';
export { loadModelFromDir, MODEL_JSON, saveModelToDir, WEIGHTS_BIN } from './model-io.js';
export {
  OPTIMIZER_STATE_FORMAT,
  OPTIMIZER_STATE_VERSION,
  type OptimizerState,
  type OptimizerStateHeader,
  readOptimizerState,
  restoreOptimizerState,
  saveOptimizerState,
  writeOptimizerState,
} from './optimizer-state.js';
