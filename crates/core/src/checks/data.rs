//! RDS, KMS and CloudTrail.

use serde_json::{Value, json};

use super::*;
use crate::finding::Severity::*;

const RDS: &[&str] = &["AWS::RDS::DBInstance"];
const CLUSTER: &[&str] = &["AWS::RDS::DBCluster"];
const TRAIL: &[&str] = &["AWS::CloudTrail::Trail"];
const KMS: &[&str] = &["AWS::KMS::Key"];

fn flag(r: &Resource, key: &str, want: bool, fail: &str) -> Outcome {
    expect_bool(
        conf(r, &[key]),
        &format!("configuration.{key}"),
        want,
        fail,
        None,
    )
}

fn aurora_member(r: &Resource) -> bool {
    conf(r, &["dBClusterIdentifier"])
        .and_then(|v| v.as_str().map(|s| !s.is_empty()))
        .unwrap_or(false)
}

pub(super) fn register(v: &mut Vec<Builtin>) {
    v.push(
        def(
            "aws.rds.public-access",
            Critical,
            RDS,
            "RDS instances are not publicly accessible",
        )
        .sh("RDS.2")
        .rule("rds-instance-public-access-check")
        .fix("Set `PubliclyAccessible` to false and place the instance in private subnets.")
        .reads(&["configuration.publiclyAccessible"])
        .eval(|r, _| {
            flag(
                r,
                "publiclyAccessible",
                false,
                "the instance is publicly accessible",
            )
        }),
    );
    v.push(
        def(
            "aws.rds.storage-encrypted",
            Medium,
            RDS,
            "RDS instances are encrypted at rest",
        )
        .sh("RDS.3")
        .cis(&["CIS AWS Foundations Benchmark v1.4.0/2.3.1"])
        .rule("rds-storage-encrypted")
        .fix("Restore an encrypted snapshot copy into a new encrypted instance.")
        .reads(&["configuration.storageEncrypted"])
        .eval(|r, _| {
            flag(
                r,
                "storageEncrypted",
                true,
                "the instance's storage is not encrypted",
            )
        }),
    );
    v.push(
        def("aws.rds.cmk-encryption", High, RDS, "RDS instances are encrypted with a customer-managed KMS key")
            .rule("rds-storage-encrypted")
            .desc("The instance is encrypted, and with a customer-managed KMS key rather than the AWS-managed `aws/rds` key, so that key policy and rotation are under the company's control. Meant for confidential and restricted data: scope it in the policy by DataClassification. A key is taken as AWS-managed when the item says so (`supplementaryConfiguration.KmsKeyManager`), when it is an `alias/aws/` alias, or when it is listed in `awsManagedKeys`; when `customerManagedKeys` is set, the key must be one of them.")
            .fix("Create a customer-managed KMS key and restore an encrypted copy of a snapshot with it.")
            .reads(&["configuration.storageEncrypted", "configuration.kmsKeyId"])
            .param("customerManagedKeys", json!([]), "When set, the only keys that count as customer-managed (ARNs or ids)")
            .param("awsManagedKeys", json!([]), "Keys known to be AWS-managed (ARNs or ids)")
            .eval(|r, ctx| {
                if truthy(conf(r, &["storageEncrypted"]).as_ref()) != Some(true) {
                    return Outcome::fail("the instance's storage is not encrypted", "configuration.storageEncrypted", conf(r, &["storageEncrypted"]).unwrap_or(Value::Null));
                }
                let p = "configuration.kmsKeyId";
                let Some(key) = conf(r, &["kmsKeyId"]).and_then(|v| v.as_str().map(str::to_string)) else {
                    return Outcome::fail("the instance names no KMS key", p, Value::Null);
                };
                let matches = |list: Vec<String>| list.iter().any(|k| key == *k || key.ends_with(&format!("/{k}")));
                let manager = supp(r, &["KmsKeyManager"]).and_then(|v| v.as_str().map(str::to_ascii_uppercase));
                if manager.as_deref() == Some("AWS") || key.contains("alias/aws/") || matches(ctx.param_strings("awsManagedKeys")) {
                    return Outcome::fail("the instance is encrypted with an AWS-managed key", p, key);
                }
                let cmks = ctx.param_strings("customerManagedKeys");
                if !cmks.is_empty() && !matches(cmks) {
                    return Outcome::fail("the instance's key is not one of the customer-managed keys the policy lists", p, key);
                }
                Outcome::pass(p, key)
            }),
    );
    v.push(
        def(
            "aws.rds.multi-az",
            Medium,
            RDS,
            "RDS instances are deployed in multiple Availability Zones",
        )
        .sh("RDS.5")
        .rule("rds-multi-az-support")
        .fix("Modify the instance to Multi-AZ.")
        .reads(&["configuration.multiAZ", "configuration.dBClusterIdentifier"])
        .eval(|r, _| {
            if aurora_member(r) {
                return Outcome::na("Aurora instances inherit availability from their cluster");
            }
            flag(
                r,
                "multiAZ",
                true,
                "the instance runs in a single Availability Zone",
            )
        }),
    );
    v.push(
        def(
            "aws.rds.enhanced-monitoring",
            Low,
            RDS,
            "RDS instances have enhanced monitoring",
        )
        .sh("RDS.6")
        .rule("rds-enhanced-monitoring-enabled")
        .fix("Set a monitoring interval (e.g. 60 seconds) and a monitoring role.")
        .reads(&["configuration.monitoringInterval"])
        .eval(|r, _| {
            let p = "configuration.monitoringInterval";
            let v = conf(r, &["monitoringInterval"]);
            match number(v.as_ref()) {
                Some(n) if n > 0.0 => Outcome::pass(p, json!(n)),
                _ => Outcome::fail("enhanced monitoring is off", p, v.unwrap_or(Value::Null)),
            }
        }),
    );
    v.push(
        def(
            "aws.rds.deletion-protection",
            Low,
            RDS,
            "RDS instances have deletion protection",
        )
        .sh("RDS.8")
        .rule("rds-instance-deletion-protection-enabled")
        .fix("Enable deletion protection on the instance.")
        .reads(&["configuration.deletionProtection"])
        .eval(|r, _| flag(r, "deletionProtection", true, "deletion protection is off")),
    );
    v.push(
        def(
            "aws.rds.iam-auth",
            Medium,
            RDS,
            "RDS instances use IAM database authentication",
        )
        .sh("RDS.10")
        .rule("rds-instance-iam-authentication-enabled")
        .fix("Enable IAM database authentication.")
        .reads(&["configuration.iAMDatabaseAuthenticationEnabled"])
        .eval(|r, _| {
            flag(
                r,
                "iAMDatabaseAuthenticationEnabled",
                true,
                "IAM database authentication is off",
            )
        }),
    );
    v.push(
        def(
            "aws.rds.backup-enabled",
            Medium,
            RDS,
            "RDS instances keep automatic backups long enough",
        )
        .sh("RDS.11")
        .rule("db-instance-backup-enabled")
        .fix("Set the backup retention period to at least the required number of days.")
        .reads(&["configuration.backupRetentionPeriod"])
        .param(
            "backupRetentionMinimum",
            json!(7),
            "Least number of days of automatic backups",
        )
        .eval(|r, ctx| {
            let p = "configuration.backupRetentionPeriod";
            let v = conf(r, &["backupRetentionPeriod"]);
            let min = ctx.param_f64("backupRetentionMinimum", 7.0);
            match number(v.as_ref()) {
                Some(n) if n >= min => Outcome::pass(p, json!(n)),
                Some(n) => Outcome::fail(
                    format!("backups are kept {n} days (at least {min} required)"),
                    p,
                    json!(n),
                ),
                None => Outcome::fail("automatic backups are not configured", p, Value::Null),
            }
        }),
    );
    v.push(
        def(
            "aws.rds.minor-version-upgrade",
            High,
            RDS,
            "RDS instances apply minor engine upgrades automatically",
        )
        .sh("RDS.13")
        .rule("rds-automatic-minor-version-upgrade-enabled")
        .fix("Enable `AutoMinorVersionUpgrade`.")
        .reads(&["configuration.autoMinorVersionUpgrade"])
        .eval(|r, _| {
            flag(
                r,
                "autoMinorVersionUpgrade",
                true,
                "automatic minor version upgrades are off",
            )
        }),
    );
    v.push(
        def(
            "aws.rds.copy-tags-to-snapshots",
            Low,
            RDS,
            "RDS instances copy tags to snapshots",
        )
        .sh("RDS.17")
        .rule("rds-instance-copy-tags-to-snapshots-enabled")
        .fix("Enable `CopyTagsToSnapshot` so snapshots keep the instance's classification.")
        .reads(&["configuration.copyTagsToSnapshot"])
        .eval(|r, _| {
            flag(
                r,
                "copyTagsToSnapshot",
                true,
                "tags are not copied to snapshots",
            )
        }),
    );
    v.push(
        def(
            "aws.rds.cluster-deletion-protection",
            Low,
            CLUSTER,
            "RDS clusters have deletion protection",
        )
        .sh("RDS.7")
        .rule("rds-cluster-deletion-protection-enabled")
        .fix("Enable deletion protection on the cluster.")
        .reads(&["configuration.deletionProtection"])
        .eval(|r, _| flag(r, "deletionProtection", true, "deletion protection is off")),
    );
    v.push(
        def(
            "aws.rds.cluster-iam-auth",
            Medium,
            CLUSTER,
            "RDS clusters use IAM database authentication",
        )
        .sh("RDS.12")
        .rule("rds-cluster-iam-authentication-enabled")
        .fix("Enable IAM database authentication on the cluster.")
        .reads(&["configuration.iAMDatabaseAuthenticationEnabled"])
        .eval(|r, _| {
            flag(
                r,
                "iAMDatabaseAuthenticationEnabled",
                true,
                "IAM database authentication is off",
            )
        }),
    );
    v.push(
        def(
            "aws.rds.cluster-multi-az",
            Medium,
            CLUSTER,
            "RDS clusters span multiple Availability Zones",
        )
        .sh("RDS.15")
        .rule("rds-cluster-multi-az-enabled")
        .fix("Add a reader in another Availability Zone, or enable Multi-AZ.")
        .reads(&["configuration.multiAZ"])
        .eval(|r, _| {
            flag(
                r,
                "multiAZ",
                true,
                "the cluster runs in a single Availability Zone",
            )
        }),
    );

    // KMS
    v.push(
        def(
            "aws.kms.key-rotation",
            Medium,
            KMS,
            "Customer-managed KMS keys rotate automatically",
        )
        .sh("KMS.4")
        .cis(&[
            "CIS AWS Foundations Benchmark v1.2.0/2.8",
            "CIS AWS Foundations Benchmark v1.4.0/3.8",
        ])
        .rule("cmk-backing-key-rotation-enabled")
        .fix("Enable automatic key rotation: `aws kms enable-key-rotation --key-id KEY`.")
        .reads(&[
            "configuration.keyManager",
            "configuration.keySpec",
            "configuration.customerMasterKeySpec",
            "configuration.keyRotationEnabled",
        ])
        .eval(|r, _| {
            let mgr =
                conf(r, &["keyManager"]).and_then(|v| v.as_str().map(str::to_ascii_uppercase));
            if mgr.as_deref() == Some("AWS") {
                return Outcome::na("AWS-managed key (rotated by AWS)");
            }
            let spec = conf(r, &["keySpec"])
                .or_else(|| conf(r, &["customerMasterKeySpec"]))
                .and_then(|v| v.as_str().map(str::to_string));
            if spec.as_deref().is_some_and(|s| s != "SYMMETRIC_DEFAULT") {
                return Outcome::na("asymmetric and HMAC keys cannot rotate automatically");
            }
            match truthy(conf(r, &["keyRotationEnabled"]).as_ref()) {
                Some(true) => Outcome::pass("configuration.keyRotationEnabled", true),
                Some(false) => Outcome::fail(
                    "automatic rotation is off",
                    "configuration.keyRotationEnabled",
                    false,
                ),
                None => Outcome::unknown(
                    "the key's rotation status was not collected (kms:GetKeyRotationStatus)",
                ),
            }
        }),
    );
    v.push(
        def(
            "aws.kms.not-pending-deletion",
            Critical,
            KMS,
            "KMS keys are not scheduled for deletion",
        )
        .sh("KMS.3")
        .rule("kms-cmk-not-scheduled-for-deletion")
        .fix("Cancel the key deletion if the key is still needed (`aws kms cancel-key-deletion`).")
        .reads(&["configuration.keyState"])
        .eval(|r, _| {
            let p = "configuration.keyState";
            match conf(r, &["keyState"]) {
                Some(Value::String(s)) if s == "PendingDeletion" => {
                    Outcome::fail("the key is scheduled for deletion", p, s)
                }
                Some(s) => Outcome::pass(p, s),
                None => Outcome::unknown("the key's state was not collected"),
            }
        }),
    );

    // CloudTrail
    v.push(
        def(
            "aws.cloudtrail.encryption",
            Medium,
            TRAIL,
            "CloudTrail trails encrypt logs with KMS",
        )
        .sh("CloudTrail.2")
        .cis(&[
            "CIS AWS Foundations Benchmark v1.2.0/2.7",
            "CIS AWS Foundations Benchmark v1.4.0/3.7",
        ])
        .rule("cloud-trail-encryption-enabled")
        .fix("Configure SSE-KMS for the trail with a customer-managed key.")
        .reads(&["configuration.kmsKeyId"])
        .eval(|r, _| {
            expect_nonempty(
                conf(r, &["kmsKeyId"]),
                "configuration.kmsKeyId",
                "the trail's logs are not encrypted with KMS",
            )
        }),
    );
    v.push(
        def(
            "aws.cloudtrail.log-validation",
            Low,
            TRAIL,
            "CloudTrail trails validate log files",
        )
        .sh("CloudTrail.4")
        .cis(&[
            "CIS AWS Foundations Benchmark v1.2.0/2.2",
            "CIS AWS Foundations Benchmark v1.4.0/3.2",
        ])
        .rule("cloud-trail-log-file-validation-enabled")
        .fix("Enable log file validation on the trail.")
        .reads(&["configuration.logFileValidationEnabled"])
        .eval(|r, _| {
            flag(
                r,
                "logFileValidationEnabled",
                true,
                "log file validation is off",
            )
        }),
    );
    v.push(
        def(
            "aws.cloudtrail.cloudwatch-logs",
            Low,
            TRAIL,
            "CloudTrail trails deliver to CloudWatch Logs",
        )
        .sh("CloudTrail.5")
        .cis(&[
            "CIS AWS Foundations Benchmark v1.2.0/2.4",
            "CIS AWS Foundations Benchmark v1.4.0/3.4",
        ])
        .rule("cloud-trail-cloud-watch-logs-enabled")
        .fix("Configure a CloudWatch Logs log group and role for the trail.")
        .reads(&["configuration.cloudWatchLogsLogGroupArn"])
        .eval(|r, _| {
            expect_nonempty(
                conf(r, &["cloudWatchLogsLogGroupArn"]),
                "configuration.cloudWatchLogsLogGroupArn",
                "the trail does not deliver to CloudWatch Logs",
            )
        }),
    );
    v.push(
        def("aws.cloudtrail.multi-region", High, TRAIL, "CloudTrail trails record every region")
            .sh("CloudTrail.1")
            .cis(&["CIS AWS Foundations Benchmark v1.2.0/2.1", "CIS AWS Foundations Benchmark v1.4.0/3.1"])
            .rule("multi-region-cloudtrail-enabled")
            .desc("The trail is multi-region (the account-level control additionally needs one such trail logging management events).")
            .fix("Make the trail multi-region (`aws cloudtrail update-trail --is-multi-region-trail`).")
            .reads(&["configuration.isMultiRegionTrail"])
            .eval(|r, _| flag(r, "isMultiRegionTrail", true, "the trail records a single region")),
    );
}
