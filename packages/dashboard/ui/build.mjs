// Builds the dashboard page into packages/dashboard/dist/ui/ (flat):
// index.html, app.css, and one ES module per ui/*.ts. The server serves
// `assets/<file>` from there. Deterministic, offline, one TypeScript program.
//   node packages/dashboard/ui/build.mjs
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

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
// tsc lays files out under rootDir (`..`): keep ui/<name>.js, flattened;
// the API types (../src) are types only and emit nothing worth serving.
const emitted = [];
const result = program.emit(undefined, (file, text) => {
  const rel = relative(out, file).split(sep);
  if (rel.length !== 2 || rel[0] !== 'ui' || !rel[1].endsWith('.js')) return;
  writeFileSync(join(out, rel[1]), text);
  emitted.push(rel[1]);
});
if (result.emitSkipped || result.diagnostics.length > 0) fail(result.diagnostics);

for (const f of readdirSync(ui)) if (f.endsWith('.html') || f.endsWith('.css')) copyFileSync(join(ui, f), join(out, f));
console.log(`dashboard ui: ${emitted.length} modules, index.html, app.css → ${relative(process.cwd(), out) || '.'}`);

function fail(d) {
  const list = Array.isArray(d) ? d : [d];
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => process.cwd(), getNewLine: () => '\n' };
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(list, host));
  process.exit(1);
}
