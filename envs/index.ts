// Public API of the environment client: vector environments hosted by the Python bridge
// (python-bridge/, protocol in python-bridge/PROTOCOL.md).
export { ConcatVecEnv } from './concat.js';
export { Connection } from './connection.js';
export { loadCurveClientKeys } from './curve.js';
export { BridgeError, ServerFailure } from './errors.js';
export { type GroupSpec, RemoteVecEnv } from './group.js';
export { BridgeVecEnv, type MakeVecEnvOptions, makeVecEnv, type RemoteServer } from './make.js';
export { bridgeDir, defaultPython, packageRoot } from './paths.js';
export {
  liveChildren,
  managedServerArgs,
  type ReadyLine,
  type SpawnedServer,
  type SpawnOptions,
  spawnServer,
  stopServer,
} from './process.js';
export { PROTOCOL_VERSION } from './protocol.js';
export { BridgeServer, type HelloInfo, type RemoteServerOptions, type ServerOptions } from './server.js';
export type {
  ActionSpace,
  AtariOptions,
  CurveClientKeys,
  EnvKind,
  EpisodeInfo,
  MinAtarOptions,
  ObsArray,
  ObsDType,
  ObservationSpace,
  ObsLayout,
  ResetResult,
  ServerStepStats,
  StepResult,
  VecEnv,
} from './types.js';
