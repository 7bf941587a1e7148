// Creates a PGlite data folder (initdb) and exits. Run as a child process by database.ts: initdb grows the
// WebAssembly memory to about 900 MB, which a process never gives back, so doing it here keeps the
// long-running service at the memory of a reopened database (about half).
import process from 'node:process';
import { PGlite } from '@electric-sql/pglite';

const folder = process.argv[2];
if (!folder) {
  process.stderr.write('usage: node pglite-init.mjs <data folder>\n');
  process.exit(2);
}
const db = await PGlite.create(folder);
await db.close();
