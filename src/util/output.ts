// One way to print results: human text, or one JSON document on stdout with --json.

export function printResult(json: boolean, value: unknown, human: () => string): void {
  if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else process.stdout.write(`${human()}\n`);
}

/** Progress and notes go to stderr so that stdout stays machine-readable. */
export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}
