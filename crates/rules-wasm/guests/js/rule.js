// The two example rules in JavaScript: an S3 bucket blocks all public access; an RDS instance
// holding confidential or restricted data is encrypted with a customer-managed KMS key.
import { ev, evaluateWith } from './sdk.js';
import { METADATA } from './metadata.js'; // generated from ../metadata.json by build.mjs

const FLAGS = ['blockPublicAcls', 'ignorePublicAcls', 'blockPublicPolicy', 'restrictPublicBuckets'];
const PAB = 'supplementaryConfiguration.PublicAccessBlockConfiguration';

function s3(r) {
  const values = FLAGS.map((_, i) => r.value(i));
  if (values.every((v) => v === undefined)) {
    return { status: 'fail', reason: 'the bucket has no public access block', evidence: [ev(PAB, null)] };
  }
  const off = FLAGS.filter((_, i) => values[i] !== true);
  const evidence = FLAGS.map((f, i) => ev(`${PAB}.${f}`, values[i]));
  if (off.length === 0) return { status: 'pass', evidence };
  return {
    status: 'fail',
    reason: `public access is not fully blocked: ${off.join(', ')} not on`,
    evidence: evidence.filter((_, i) => values[i] !== true),
  };
}

function rds(input, r) {
  const cls = r.value(0);
  if (typeof cls !== 'string') {
    return { status: 'not_applicable', reason: 'the instance has no DataClassification tag' };
  }
  const levels = String(input.params.levels ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (!levels.includes(cls.trim().toLowerCase())) {
    return { status: 'not_applicable', reason: `the instance holds ${cls} data` };
  }
  if (r.value(1) !== true) {
    return { status: 'fail', reason: "the instance's storage is not encrypted", evidence: [ev('configuration.storageEncrypted', r.value(1))] };
  }
  const key = r.value(2);
  if (typeof key !== 'string') {
    return { status: 'fail', reason: 'the instance names no KMS key', evidence: [ev('configuration.kmsKeyId', null)] };
  }
  const manager = r.value(3);
  if ((typeof manager === 'string' && manager.toUpperCase() === 'AWS') || key.includes('alias/aws/')) {
    return { status: 'fail', reason: 'the instance is encrypted with an AWS-managed key', evidence: [ev('configuration.kmsKeyId', key)] };
  }
  return { status: 'pass', evidence: [ev('configuration.kmsKeyId', key)] };
}

export function metadata() {
  return METADATA;
}

export function evaluate(text) {
  return evaluateWith(text, () => 4, (input, r) => (input.rule === 0 ? s3(r) : rds(input, r)));
}
