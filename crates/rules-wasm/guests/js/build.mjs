// Builds rule.js into a component of the `assetwarden:rule` world with no WASI imports:
//   node build.mjs OUT.wasm        (with @bytecodealliance/componentize-js resolvable)
import { componentize } from '@bytecodealliance/componentize-js';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const meta = JSON.stringify(JSON.parse(await readFile(join(here, '..', 'metadata.json'), 'utf8')));
await writeFile(join(here, 'metadata.js'), `export const METADATA = ${JSON.stringify(meta)};\n`);
const { component } = await componentize({
  sourcePath: join(here, 'rule.js'),
  witPath: join(here, '..', '..', 'wit', 'rule.wit'),
  worldName: 'rule',
  disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
});
await writeFile(process.argv[2], component);
