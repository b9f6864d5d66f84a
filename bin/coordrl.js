#!/usr/bin/env node
// Thin launcher: the CLI is compiled from src/cli.ts into dist/ by `npm install` (prepare/build).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const entry = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'src', 'cli.js');
if (!existsSync(entry)) {
  console.error('coordrl: dist/ is missing; build it with `npm run build` (npm install does this).');
  process.exit(1);
}
process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
// `coordrl ... | head` closes stdout early: that is not an error worth a stack trace.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
const { main } = await import(entry);
await main(process.argv);
