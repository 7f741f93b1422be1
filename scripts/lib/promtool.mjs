// promtool (Prometheus's checker of the text exposition format), for the metrics tests.
// Debian's `prometheus` package ships it; installing the package would also set up a
// Prometheus server, so the package is downloaded and only promtool is unpacked, into
// .cache/promtool/ at the repository's root. `promtool` on PATH is used when present.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CACHED = path.join(ROOT, '.cache', 'promtool', 'usr', 'bin', 'promtool');

function run(cmd, args, options = {}) {
  const res = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  if (res.error || res.status !== 0) {
    throw new Error(`\`${cmd} ${args.join(' ')}\` ${res.error ? `failed (${res.error.message})` : `exited with ${res.status}: ${String(res.stderr).trim()}`}`);
  }
  return res;
}

/** The path of a working promtool, fetching it first if needed. */
export function ensurePromtool() {
  const onPath = spawnSync('promtool', ['--version'], { stdio: 'ignore' });
  if (!onPath.error && onPath.status === 0) return 'promtool';
  if (fs.existsSync(CACHED)) return CACHED;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kyoo-promtool-'));
  try {
    process.stderr.write('promtool is not installed; fetching Debian\'s prometheus package to unpack promtool from it\n');
    run('apt-get', ['download', 'prometheus'], { cwd: tmp });
    const deb = fs.readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download prometheus wrote no .deb');
    const dest = path.join(ROOT, '.cache', 'promtool');
    fs.mkdirSync(dest, { recursive: true });
    run('dpkg-deb', ['-x', path.join(tmp, deb), dest]);
    if (!fs.existsSync(CACHED)) throw new Error(`the prometheus package has no ${path.relative(dest, CACHED)}`);
    return CACHED;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
