// CURVE client keys for servers beyond loopback. `coordrl serve --gen-keys DIR` writes:
//   DIR/server/server.key (public), DIR/clients/client.key_secret (the client's pair).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { note } from '../src/util/output.js';
import { keyPermissionWarnings } from './key-permissions.js';
import type { CurveClientKeys } from './types.js';

function readKey(file: string, which: 'public-key' | 'secret-key'): string {
  const text = readFileSync(file, 'utf8');
  const m = new RegExp(`${which}\\s*=\\s*"([^"]{40})"`).exec(text);
  if (!m) throw new Error(`${file} holds no ${which}`);
  return m[1];
}

/** Reads the keys a client needs from a directory made by `--gen-keys` (or a copy of its parts). */
export function loadCurveClientKeys(dir: string, clientName = 'client'): CurveClientKeys {
  for (const w of keyPermissionWarnings(dir, clientName)) note(`warning: ${w}`);
  const secretFile = path.join(dir, 'clients', `${clientName}.key_secret`);
  return {
    serverPublicKey: readKey(path.join(dir, 'server', 'server.key'), 'public-key'),
    publicKey: readKey(secretFile, 'public-key'),
    secretKey: readKey(secretFile, 'secret-key'),
  };
}
