// Warnings about CURVE key files that other users can read or replace (the env server checks its own
// keys the same way; see python-bridge/PROTOCOL.md).
import { statSync } from 'node:fs';
import path from 'node:path';

const octal = (mode: number): string => (mode & 0o777).toString(8);

/** One message per problem: a secret key open to other users, or a keys dir others can write to. */
export function keyPermissionWarnings(dir: string, clientName = 'client'): string[] {
  const out: string[] = [];
  const uid = process.getuid?.();
  for (const d of [dir, path.join(dir, 'clients')]) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(d);
    } catch {
      continue;
    }
    if (st.mode & 0o022) out.push(`${d} is writable by other users (mode ${octal(st.mode)}); run: chmod go-w ${d}`);
    if (uid !== undefined && st.uid !== uid) out.push(`${d} belongs to another user (uid ${st.uid})`);
  }
  const secret = path.join(dir, 'clients', `${clientName}.key_secret`);
  try {
    const st = statSync(secret);
    if (st.mode & 0o077) {
      out.push(
        `secret key ${secret} can be read or changed by other users (mode ${octal(st.mode)}); run: chmod 600 ${secret}`,
      );
    }
  } catch {
    // a missing key is reported by the loader
  }
  return out;
}
