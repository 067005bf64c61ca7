// The Assetwarden rule SDK for JavaScript (rule ABI 1, the `assetwarden:rule` WIT world), for
// components built with componentize-js with every WASI feature disabled (build.mjs).
import { log as hostLog } from 'assetwarden:rule/host@1.0.0';

/** Sends a line to the host's bounded log. */
export function log(message) {
  hostLog(String(message));
}

/** One resource: index, type, ARN and the raw JSON of each declared path (undefined when absent). */
export class Resource {
  constructor(index, type, arn, values) {
    this.index = index;
    this.type = type;
    this.arn = arn;
    this.raw = values;
  }
  /** Value i decoded (undefined when absent). */
  value(i) {
    const r = this.raw[i];
    return r === undefined || r === '' ? undefined : JSON.parse(r);
  }
}

/** Parses the input; readsOf(rule) gives the number of paths the rule declared. */
export function parse(text, readsOf) {
  const lines = text.split('\n');
  const h = lines[0].split(' ');
  if (h.length !== 3 || h[0] !== 'AW1') throw new Error(`unexpected header ${lines[0]}`);
  const rule = Number(h[1]);
  const count = Number(h[2]);
  const n = readsOf(rule);
  const params = {};
  let at = 1;
  while (at < lines.length && lines[at].startsWith('P ')) {
    const rest = lines[at++].slice(2);
    const sp = rest.indexOf(' ');
    params[rest.slice(0, sp)] = JSON.parse(rest.slice(sp + 1));
  }
  const resources = [];
  for (let k = 0; k < count; k++) {
    const line = lines[at++];
    const m = /^R (\d+) (\S+) ?(.*)$/.exec(line);
    if (!m) throw new Error(`bad resource line ${line}`);
    resources.push(new Resource(Number(m[1]), m[2], m[3], lines.slice(at, at + n)));
    at += n;
  }
  return { rule, params, resources };
}

/** Evidence for a result: a path and a value (undefined becomes null). */
export function ev(path, value) {
  return { path, value: value === undefined ? null : value };
}

/** Runs `rule(input, resource)` (returning {status, reason?, evidence?}) on every resource. */
export function evaluateWith(text, readsOf, rule) {
  const input = parse(text, readsOf);
  return JSON.stringify(input.resources.map((r) => ({ i: r.index, ...rule(input, r) })));
}
