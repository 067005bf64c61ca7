// The Assetwarden rule SDK for AssemblyScript (rule ABI 1). Build with the stub runtime:
//   asc assembly/index.ts -o rules.wasm -O3 --runtime stub --use abort=
// Each call runs in a fresh instance, so nothing is freed.

@external("assetwarden", "log")
declare function hostLog(ptr: usize, len: i32): void;

/** Sends a line to the host's bounded log. */
export function log(msg: string): void {
  const b = String.UTF8.encode(msg);
  hostLog(changetype<usize>(b), b.byteLength);
}

/** One resource: index, type, ARN and the raw JSON of each declared path ("" when absent). */
export class Resource {
  index: i32 = 0;
  type: string = "";
  arn: string = "";
  values: string[] = [];

  /** Whether value i is the JSON true (a string "true" is not). */
  isTrue(i: i32): bool {
    return i < this.values.length && this.values[i] == "true";
  }
  /** Whether value i is present. */
  has(i: i32): bool {
    return i < this.values.length && this.values[i].length > 0;
  }
  /** Value i as a string ("" when absent or not a string). */
  str(i: i32): string {
    return i < this.values.length ? jsonString(this.values[i]) : "";
  }
  /** Whether value i is a JSON string. */
  isString(i: i32): bool {
    return this.has(i) && this.values[i].charAt(0) == "\"";
  }
  /** Value i's JSON for evidence ("null" when absent). */
  raw(i: i32): string {
    return this.has(i) ? this.values[i] : "null";
  }
}

/** Decodes a JSON string literal (common escapes); "" when it is not one. */
export function jsonString(raw: string): string {
  if (raw.length < 2 || raw.charAt(0) != "\"" || raw.charAt(raw.length - 1) != "\"") return "";
  let out = "";
  for (let i = 1; i < raw.length - 1; i++) {
    const c = raw.charAt(i);
    if (c != "\\") { out += c; continue; }
    i++;
    const e = raw.charAt(i);
    if (e == "n") out += "\n";
    else if (e == "t") out += "\t";
    else if (e == "r") out += "\r";
    else if (e == "u") { out += String.fromCharCode(<i32>I32.parseInt(raw.substr(i + 1, 4), 16)); i += 4; }
    else out += e;
  }
  return out;
}

/** Encodes a string as a JSON literal. */
export function jsonQuote(s: string): string {
  let out = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 34) out += "\\\"";
    else if (c == 92) out += "\\\\";
    else if (c == 10) out += "\\n";
    else if (c == 13) out += "\\r";
    else if (c == 9) out += "\\t";
    else if (c < 32) out += "\\u00" + (c < 16 ? "0" : "") + c.toString(16);
    else out += String.fromCharCode(c);
  }
  return out + "\"";
}

/** A decoded evaluation call. */
export class Input {
  rule: i32 = 0;
  paramNames: string[] = [];
  paramValues: string[] = [];
  resources: Resource[] = [];

  /** A string parameter ("" when absent). */
  paramString(name: string): string {
    for (let i = 0; i < this.paramNames.length; i++) {
      if (this.paramNames[i] == name) return jsonString(this.paramValues[i]);
    }
    return "";
  }
}

/** Parses the input; readsOf gives the number of paths each rule declared. */
export function parse(text: string, readsOf: (rule: i32) => i32): Input {
  const lines = text.split("\n");
  const input = new Input();
  const h = lines[0].split(" ");
  if (h.length != 3 || h[0] != "AW1") { log("bad input header"); return input; }
  input.rule = <i32>I32.parseInt(h[1]);
  const count = <i32>I32.parseInt(h[2]);
  const n = readsOf(input.rule);
  let at = 1;
  while (at < lines.length && lines[at].startsWith("P ")) {
    const rest = lines[at].substr(2);
    const sp = rest.indexOf(" ");
    input.paramNames.push(rest.substr(0, sp));
    input.paramValues.push(rest.substr(sp + 1));
    at++;
  }
  for (let k = 0; k < count; k++) {
    const line = lines[at++];
    const r = new Resource();
    const a = line.indexOf(" ", 2);
    const b = line.indexOf(" ", a + 1);
    r.index = <i32>I32.parseInt(line.substring(2, a));
    r.type = b < 0 ? line.substring(a + 1) : line.substring(a + 1, b);
    r.arn = b < 0 ? "" : line.substring(b + 1);
    for (let j = 0; j < n; j++) r.values.push(at < lines.length ? lines[at++] : "");
    input.resources.push(r);
  }
  return input;
}

/** Builds the result list. */
export class Output {
  parts: string[] = [];

  /** Adds a result: status is "pass", "fail", "not_applicable" or "error"; evidence is a list
   *  of [path, raw JSON] pairs. */
  push(index: i32, status: string, reason: string, evidence: string[][]): void {
    let s = "{\"i\":" + index.toString() + ",\"status\":\"" + status + "\"";
    if (reason.length > 0) s += ",\"reason\":" + jsonQuote(reason);
    if (evidence.length > 0) {
      const ev: string[] = [];
      for (let i = 0; i < evidence.length; i++) {
        ev.push("{\"path\":" + jsonQuote(evidence[i][0]) + ",\"value\":" + evidence[i][1] + "}");
      }
      s += ",\"evidence\":[" + ev.join(",") + "]";
    }
    this.parts.push(s + "}");
  }

  finish(): string {
    return "[" + this.parts.join(",") + "]";
  }
}

/** aw_alloc: memory for the host to write the input into. */
export function alloc(n: i32): i32 {
  return <i32>changetype<usize>(new ArrayBuffer(n));
}

/** Hands a string to the host, UTF-8 encoded: address and length packed as the ABI's i64. */
export function give(s: string): i64 {
  const b = String.UTF8.encode(s);
  return (<i64>changetype<usize>(b) << 32) | <i64>b.byteLength;
}

/** The input the host wrote. */
export function inputAt(ptr: i32, len: i32): string {
  return String.UTF8.decodeUnsafe(<usize>ptr, <usize>len);
}
