// Builds the dashboard page into packages/dashboard/dist/ui/ (flat):
// index.html, app.css and app.js. The server serves `assets/<file>` from there.
// ui/*.ts is checked and emitted as one TypeScript program, then bundled into
// one ES module (rolldown, a build-time dependency only): the page loads in one
// request instead of a waterfall of imports. Deterministic, offline.
//   node packages/dashboard/ui/build.mjs
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const ui = dirname(fileURLToPath(import.meta.url));
const out = join(ui, '..', 'dist', 'ui');
const ts = createRequire(import.meta.url)('typescript');

const config = ts.getParsedCommandLineOfConfigFile(join(ui, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: fail });
if (config.errors.length > 0) fail(config.errors);
const program = ts.createProgram(config.fileNames, config.options);
const diagnostics = ts.getPreEmitDiagnostics(program);
if (diagnostics.length > 0) fail(diagnostics);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const modules = mkdtempSync(join(tmpdir(), 'kyoo-dashboard-ui-'));
// tsc lays files out under rootDir (`..`): keep ui/<name>.js, flattened;
// the API types (../src) are types only and emit nothing worth bundling.
const emitted = [];
const result = program.emit(undefined, (file, text) => {
  const rel = relative(out, file).split(sep);
  if (rel.length !== 2 || rel[0] !== 'ui' || !rel[1].endsWith('.js')) return;
  writeFileSync(join(modules, rel[1]), text);
  emitted.push(rel[1]);
});
if (result.emitSkipped || result.diagnostics.length > 0) fail(result.diagnostics);

try {
  const bundle = await rolldown({ input: join(modules, 'app.js'), logLevel: 'warn', onLog: (level, log) => fail(`${level}: ${log.message}`) });
  const { output } = await bundle.generate({ format: 'esm', sourcemap: false });
  await bundle.close();
  if (output.length !== 1) fail(`expected one bundle, got ${output.map((o) => o.fileName).join(', ')}`);
  // each module's banner names it by its scratch path: keep the module's own name
  const scratch = new RegExp(`^// .*?${modules.split(sep).pop()}[\\\\/]`, 'gm');
  writeFileSync(join(out, 'app.js'), output[0].code.replace(scratch, '// ui/'));
} finally {
  rmSync(modules, { recursive: true, force: true });
}

for (const f of readdirSync(ui)) if (f.endsWith('.html') || f.endsWith('.css')) copyFileSync(join(ui, f), join(out, f));
console.log(`dashboard ui: ${emitted.length} modules bundled into app.js, index.html, app.css → ${relative(process.cwd(), out) || '.'}`);

function fail(d) {
  if (typeof d === 'string') {
    process.stderr.write(`${d}\n`);
    process.exit(1);
  }
  const list = Array.isArray(d) ? d : [d];
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => process.cwd(), getNewLine: () => '\n' };
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(list, host));
  process.exit(1);
}
