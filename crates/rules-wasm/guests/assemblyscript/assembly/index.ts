// The two example rules in AssemblyScript: an S3 bucket blocks all public access; an RDS
// instance holding confidential or restricted data is encrypted with a customer-managed KMS key.
import { Input, Output, Resource, alloc, give, inputAt, parse } from "./sdk";
import { METADATA } from "./metadata"; // generated from ../metadata.json by build.sh

const FLAGS: string[] = ["blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets"];
const PAB = "supplementaryConfiguration.PublicAccessBlockConfiguration";

function readsOf(rule: i32): i32 {
  return 4;
}

function s3(r: Resource, out: Output): void {
  let present = 0;
  const off: string[] = [];
  const offEv: string[][] = [];
  const all: string[][] = [];
  for (let i = 0; i < 4; i++) {
    if (r.has(i)) present++;
    const ev = [PAB + "." + FLAGS[i], r.raw(i)];
    all.push(ev);
    if (!r.isTrue(i)) { off.push(FLAGS[i]); offEv.push(ev); }
  }
  if (present == 0) out.push(r.index, "fail", "the bucket has no public access block", [[PAB, "null"]]);
  else if (off.length == 0) out.push(r.index, "pass", "", all);
  else out.push(r.index, "fail", "public access is not fully blocked: " + off.join(", ") + " not on", offEv);
}

function rds(input: Input, r: Resource, out: Output): void {
  if (!r.isString(0)) {
    out.push(r.index, "not_applicable", "the instance has no DataClassification tag", []);
    return;
  }
  const cls = r.str(0);
  const levels = input.paramString("levels").split(",");
  let applies = false;
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i].trim();
    if (l.length > 0 && l.toLowerCase() == cls.trim().toLowerCase()) applies = true;
  }
  if (!applies) {
    out.push(r.index, "not_applicable", "the instance holds " + cls + " data", []);
    return;
  }
  if (!r.isTrue(1)) {
    out.push(r.index, "fail", "the instance's storage is not encrypted", [["configuration.storageEncrypted", r.raw(1)]]);
    return;
  }
  if (!r.isString(2)) {
    out.push(r.index, "fail", "the instance names no KMS key", [["configuration.kmsKeyId", "null"]]);
    return;
  }
  const key = r.str(2);
  const ev = [["configuration.kmsKeyId", r.raw(2)]];
  if (r.str(3).toUpperCase() == "AWS" || key.includes("alias/aws/")) {
    out.push(r.index, "fail", "the instance is encrypted with an AWS-managed key", ev);
    return;
  }
  out.push(r.index, "pass", "", ev);
}

export function aw_alloc(n: i32): i32 {
  return alloc(n);
}

export function aw_metadata(): i64 {
  return give(METADATA);
}

export function aw_evaluate(ptr: i32, len: i32): i64 {
  const input = parse(inputAt(ptr, len), readsOf);
  const out = new Output();
  for (let i = 0; i < input.resources.length; i++) {
    if (input.rule == 0) s3(input.resources[i], out);
    else rds(input, input.resources[i], out);
  }
  return give(out.finish());
}
