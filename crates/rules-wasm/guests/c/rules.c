/* The two example rules in C: an S3 bucket blocks all public access; an RDS instance holding
 * confidential or restricted data is encrypted with a customer-managed KMS key. */
#include "assetwarden_rule.h"
#include "metadata.h" /* generated from ../metadata.json by build.sh: aw_metadata_json */

static const char *const S3_FLAGS[4] = {"blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy",
                                        "restrictPublicBuckets"};
static const char *const S3_PATHS[4] = {
    "supplementaryConfiguration.PublicAccessBlockConfiguration.blockPublicAcls",
    "supplementaryConfiguration.PublicAccessBlockConfiguration.ignorePublicAcls",
    "supplementaryConfiguration.PublicAccessBlockConfiguration.blockPublicPolicy",
    "supplementaryConfiguration.PublicAccessBlockConfiguration.restrictPublicBuckets"};

static int aw_reads_of(int rule) { return rule == 0 ? 4 : 4; }

static void s3(aw_resource *r, aw_out *o) {
  int present = 0, off = 0;
  for (int i = 0; i < 4; i++) {
    if (r->values[i].n > 0) present++;
    if (!aw_str_eq(r->values[i], "true")) off++;
  }
  aw_str none = {0, 0};
  if (present == 0) {
    aw_result_begin(o, r->index, "fail", aw_cstr("the bucket has no public access block"));
    aw_evidence(o, 1, "supplementaryConfiguration.PublicAccessBlockConfiguration", none);
  } else if (off == 0) {
    aw_result_begin(o, r->index, "pass", none);
    for (int i = 0; i < 4; i++) aw_evidence(o, i == 0, S3_PATHS[i], r->values[i]);
  } else {
    /* "public access is not fully blocked: a, b not on" */
    aw_out msg = {0, 0, 0, 0};
    aw_puts(&msg, "public access is not fully blocked: ");
    int k = 0;
    for (int i = 0; i < 4; i++)
      if (!aw_str_eq(r->values[i], "true")) {
        if (k++) aw_puts(&msg, ", ");
        aw_puts(&msg, S3_FLAGS[i]);
      }
    aw_puts(&msg, " not on");
    aw_str reason = {msg.buf, msg.len};
    aw_result_begin(o, r->index, "fail", reason);
    k = 0;
    for (int i = 0; i < 4; i++)
      if (!aw_str_eq(r->values[i], "true")) aw_evidence(o, k++ == 0, S3_PATHS[i], r->values[i]);
  }
  aw_result_end(o);
}

/* Whether `cls` is one of the comma-separated `levels` (any case). */
static int in_levels(aw_str levels, aw_str cls) {
  int start = 0;
  for (int i = 0; i <= levels.n; i++) {
    if (i == levels.n || levels.p[i] == ',') {
      aw_str item = {levels.p + start, i - start};
      if (aw_str_eq_ci(aw_trim(item), aw_trim(cls))) return 1;
      start = i + 1;
    }
  }
  return 0;
}

static void rds(aw_input *in, aw_resource *r, aw_out *o) {
  aw_str none = {0, 0};
  aw_str levels = aw_json_string(aw_param(in, "levels"));
  aw_str cls = aw_json_string(r->values[0]);
  if (cls.n < 0) {
    aw_result_begin(o, r->index, "not_applicable", aw_cstr("the instance has no DataClassification tag"));
  } else if (levels.n < 0 || !in_levels(levels, cls)) {
    aw_out msg = {0, 0, 0, 0};
    aw_puts(&msg, "the instance holds ");
    aw_put(&msg, cls.p, cls.n);
    aw_puts(&msg, " data");
    aw_str reason = {msg.buf, msg.len};
    aw_result_begin(o, r->index, "not_applicable", reason);
  } else if (!aw_str_eq(r->values[1], "true")) {
    aw_result_begin(o, r->index, "fail", aw_cstr("the instance's storage is not encrypted"));
    aw_evidence(o, 1, "configuration.storageEncrypted", r->values[1]);
  } else {
    aw_str key = aw_json_string(r->values[2]);
    aw_str manager = aw_json_string(r->values[3]);
    aw_str aws = {"AWS", 3};
    if (key.n < 0) {
      aw_result_begin(o, r->index, "fail", aw_cstr("the instance names no KMS key"));
      aw_evidence(o, 1, "configuration.kmsKeyId", none);
    } else if ((manager.n >= 0 && aw_str_eq_ci(manager, aws)) || aw_str_contains(key, "alias/aws/")) {
      aw_result_begin(o, r->index, "fail", aw_cstr("the instance is encrypted with an AWS-managed key"));
      aw_evidence(o, 1, "configuration.kmsKeyId", r->values[2]);
    } else {
      aw_result_begin(o, r->index, "pass", none);
      aw_evidence(o, 1, "configuration.kmsKeyId", r->values[2]);
    }
  }
  aw_result_end(o);
}

static void aw_rule(aw_input *in, aw_resource *r, aw_out *o) {
  if (in->rule == 0) s3(r, o); else rds(in, r, o);
}

AW_DEFINE_EXPORTS
