import { UserFacingError } from '../src/util/cli-errors.js';

/** The server answered a request with an error (bad request, unknown game, env failure, ...). */
export class BridgeError extends UserFacingError {
  override name = 'BridgeError';
  constructor(
    message: string,
    readonly code: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The server died, hung, or could not be reached. `generation` says which server incarnation failed. */
export class ServerFailure extends UserFacingError {
  override name = 'ServerFailure';
  constructor(
    message: string,
    readonly generation: number,
  ) {
    super(message);
  }
}
