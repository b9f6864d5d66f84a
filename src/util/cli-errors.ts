// Errors the CLI turns into a one-line message and an exit code, instead of a stack trace.

/** Bad arguments or configuration: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure the user can act on (missing setup, dead server, corrupt checkpoint): exit code 1. */
export class UserFacingError extends Error {
  override name = 'UserFacingError';
}

/** Parses a positive integer option, with a message that names the option. */
export function positiveInt(name: string, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const n = Number(value.replace(/_/g, ''));
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name} must be a positive integer, got '${value}'`);
    if (n > max) throw new UsageError(`${name} must be at most ${max.toLocaleString('en-US')}, got ${value}`);
    return n;
  };
}

/** Parses a non-negative integer option. */
export function nonNegativeInt(name: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} must be an integer >= 0, got '${value}'`);
    return n;
  };
}

/** Parses a positive number option. */
export function positiveNumber(name: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${name} must be a positive number, got '${value}'`);
    return n;
  };
}

/** Parses a number >= 0. */
export function nonNegativeNumber(name: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`${name} must be a number >= 0, got '${value}'`);
    return n;
  };
}

/** Parses a number strictly between 0 and 1 (a power, a significance level). */
export function openFraction(name: string): (value: string) => number {
  return (value: string) => {
    const x = Number(value);
    if (!(x > 0 && x < 1)) throw new UsageError(`${name} must be a number between 0 and 1 (exclusive), got '${value}'`);
    return x;
  };
}

/** Parses a finite number other than 0 (an effect size). */
export function nonZeroNumber(name: string): (value: string) => number {
  return (value: string) => {
    const x = Number(value);
    if (!Number.isFinite(x) || x === 0) throw new UsageError(`${name} must be a non-zero number, got '${value}'`);
    return x;
  };
}

/**
 * Parses counts like `10M`, `500k`, `1e6`, `2_000_000` (frames or steps).
 */
export function parseCount(name: string): (value: string) => number {
  return (value: string) => {
    const m = /^([0-9][0-9_]*(?:\.[0-9]+)?(?:e[0-9]+)?)([kKmMgG]?)$/.exec(value.trim());
    if (!m) throw new UsageError(`${name}: cannot read '${value}' as a count (examples: 10M, 500k, 2000000)`);
    const mult = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
    const n = Math.round(Number(m[1].replace(/_/g, '')) * mult);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${name} must be positive, got '${value}'`);
    return n;
  };
}
