//! EC2 instances, Lambda functions and ECS.

use chrono::{NaiveDateTime, TimeZone, Utc};
use serde_json::{Value, json};

use super::*;
use crate::finding::Severity::*;

const EC2: &[&str] = &["AWS::EC2::Instance"];

/// `User initiated (2026-01-05 10:00:00 GMT)`: when an instance was stopped.
static STOPPED_SINCE: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) GMT\)").ok()
});
const LAMBDA: &[&str] = &["AWS::Lambda::Function"];
const TASKDEF: &[&str] = &["AWS::ECS::TaskDefinition"];

/// Runtimes AWS has deprecated (Lambda runtime deprecation schedule, as of 2026).
const DEPRECATED_RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs4.3-edge",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "ruby2.5",
    "ruby2.7",
    "ruby3.2",
    "java8",
    "go1.x",
    "provided",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet5.0",
    "dotnet6",
    "dotnet7",
];

fn containers(r: &Resource) -> Vec<Value> {
    conf(r, &["ContainerDefinitions"])
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

fn container_name(c: &Value) -> String {
    ci(c, "Name")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string()
}

pub(super) fn register(v: &mut Vec<Builtin>) {
    v.push(
        def("aws.ec2.imdsv2", High, EC2, "EC2 instances require IMDSv2")
            .sh("EC2.8")
            .rule("ec2-imdsv2-check")
            .fix("Set `HttpTokens` to `required` in the instance metadata options (`aws ec2 modify-instance-metadata-options --http-tokens required`).")
            .reads(&["configuration.metadataOptions"])
            .eval(|r, _| {
                let p = "configuration.metadataOptions.httpTokens";
                match conf(r, &["metadataOptions", "httpTokens"]) {
                    Some(Value::String(s)) if s.eq_ignore_ascii_case("required") => Outcome::pass(p, s),
                    Some(other) => Outcome::fail("the instance accepts IMDSv1 requests", p, other),
                    None => Outcome::unknown("the instance's metadata options were not collected"),
                }
            }),
    );
    v.push(
        def("aws.ec2.no-public-ip", High, EC2, "EC2 instances have no public IPv4 address")
            .sh("EC2.9")
            .rule("ec2-instance-no-public-ip")
            .fix("Launch instances in private subnets without public addresses; expose them through a load balancer.")
            .reads(&["configuration.publicIpAddress"])
            .eval(|r, _| {
                let p = "configuration.publicIpAddress";
                match conf(r, &["publicIpAddress"]) {
                    Some(Value::String(s)) if !s.is_empty() => Outcome::fail(format!("the instance has public address {s}"), p, s),
                    _ => Outcome::pass(p, Value::Null),
                }
            }),
    );
    v.push(
        def("aws.ec2.stopped-instance", Medium, EC2, "Stopped EC2 instances are removed after an allowed period")
            .sh("EC2.4")
            .rule("ec2-stopped-instance")
            .fix("Terminate instances that have been stopped longer than the allowed period, or start and use them.")
            .reads(&["configuration.state", "configuration.stateTransitionReason"])
            .param("allowedDays", json!(30), "Days an instance may stay stopped")
            .eval(|r, ctx| {
                let state = conf(r, &["state", "name"]).and_then(|v| v.as_str().map(str::to_string));
                match state.as_deref() {
                    Some("stopped") => {}
                    Some(s) => return Outcome::pass("configuration.state.name", s),
                    None => return Outcome::unknown("the instance's state was not collected"),
                }
                let reason = conf(r, &["stateTransitionReason"]).and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
                let since = STOPPED_SINCE
                    .as_ref()
                    .and_then(|re| re.captures(&reason).and_then(|c| c.get(1).map(|m| m.as_str().to_string())))
                    .and_then(|t| NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S").ok())
                    .map(|t| Utc.from_utc_datetime(&t));
                let Some(since) = since else {
                    return Outcome::unknown(format!("cannot tell since when the instance is stopped from `{reason}`"));
                };
                let days = (ctx.now - since).num_days();
                let allowed = ctx.param_f64("allowedDays", 30.0) as i64;
                if days > allowed {
                    Outcome::fail(format!("the instance has been stopped for {days} days (allowed: {allowed})"), "configuration.stateTransitionReason", reason)
                } else {
                    Outcome::pass("configuration.stateTransitionReason", reason)
                }
            }),
    );
    v.push(
        def(
            "aws.ec2.instance-in-vpc",
            High,
            EC2,
            "EC2 instances run in a VPC",
        )
        .sh("EC2.29")
        .rule("ec2-instances-in-vpc")
        .fix("Migrate EC2-Classic instances into a VPC.")
        .reads(&["configuration.vpcId"])
        .eval(|r, _| {
            expect_nonempty(
                conf(r, &["vpcId"]),
                "configuration.vpcId",
                "the instance is not in a VPC",
            )
        }),
    );

    // Lambda
    v.push(
        def("aws.lambda.public-access", Critical, LAMBDA, "Lambda function policies do not allow public invocation")
            .sh("Lambda.1")
            .rule("lambda-function-public-access-prohibited")
            .fix("Remove statements with `Principal: \"*\"` from the function's resource policy, or restrict them with `aws:SourceArn`/`aws:SourceAccount`.")
            .reads(&["supplementaryConfiguration.Policy"])
            .eval(|r, _| {
                let p = "supplementaryConfiguration.Policy";
                let Some(doc) = supp(r, &["Policy"]).and_then(|v| policy_doc(&v)) else {
                    return Outcome::pass(p, Value::Null);
                };
                let bad: Vec<Value> = statements(&doc)
                    .into_iter()
                    .filter(|s| is_allow(s) && principal_is_public(s) && !has_restricting_condition(s))
                    .collect();
                if bad.is_empty() {
                    Outcome::pass(p, json!("no public statement"))
                } else {
                    Outcome::fail("the function policy allows anyone to invoke it", p, Value::Array(bad))
                }
            }),
    );
    v.push(
        def(
            "aws.lambda.supported-runtime",
            Medium,
            LAMBDA,
            "Lambda functions use supported runtimes",
        )
        .sh("Lambda.2")
        .rule("lambda-function-settings-check")
        .fix("Upgrade the function to a supported runtime.")
        .reads(&["configuration.runtime"])
        .param(
            "deprecatedRuntimes",
            json!(DEPRECATED_RUNTIMES),
            "Runtimes that count as unsupported",
        )
        .eval(|r, ctx| {
            let p = "configuration.runtime";
            match conf(r, &["runtime"]) {
                Some(Value::String(rt)) => {
                    if ctx.param_has("deprecatedRuntimes", &rt) {
                        Outcome::fail(format!("runtime `{rt}` is deprecated"), p, rt)
                    } else {
                        Outcome::pass(p, rt)
                    }
                }
                _ => Outcome::na("container-image function (no runtime)"),
            }
        }),
    );
    v.push(
        def("aws.lambda.vpc-multi-az", Medium, LAMBDA, "VPC Lambda functions use more than one subnet")
            .sh("Lambda.5")
            .rule("lambda-vpc-multi-az-check")
            .desc("A function connected to a VPC is attached to at least two subnets (the configuration item does not say their Availability Zones; use subnets in different zones).")
            .fix("Attach the function to subnets in at least two Availability Zones.")
            .reads(&["configuration.vpcConfig"])
            .eval(|r, _| {
                let p = "configuration.vpcConfig.subnetIds";
                let subnets = strings(conf(r, &["vpcConfig", "subnetIds"]).as_ref());
                match subnets.len() {
                    0 => Outcome::na("the function is not connected to a VPC"),
                    1 => Outcome::fail("the function is attached to a single subnet", p, json!(subnets)),
                    _ => Outcome::pass(p, json!(subnets)),
                }
            }),
    );

    // ECS
    v.push(
        def(
            "aws.ecs.service-no-public-ip",
            High,
            &["AWS::ECS::Service"],
            "ECS services do not assign public IP addresses",
        )
        .sh("ECS.2")
        .rule("ecs-no-public-ip")
        .fix("Set `AssignPublicIp` to `DISABLED` in the service's awsvpc network configuration.")
        .reads(&["configuration.NetworkConfiguration"])
        .eval(|r, _| {
            let p = "configuration.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp";
            match conf(
                r,
                &[
                    "NetworkConfiguration",
                    "AwsvpcConfiguration",
                    "AssignPublicIp",
                ],
            ) {
                Some(Value::String(s)) if s.eq_ignore_ascii_case("ENABLED") => {
                    Outcome::fail("the service assigns public IP addresses to its tasks", p, s)
                }
                other => Outcome::pass(p, other.unwrap_or(Value::Null)),
            }
        }),
    );
    v.push(
        def(
            "aws.ecs.fargate-latest-platform",
            Medium,
            &["AWS::ECS::Service"],
            "ECS Fargate services run on the latest platform version",
        )
        .sh("ECS.10")
        .rule("ecs-fargate-latest-platform-version")
        .fix("Set the service's platform version to `LATEST` (or the current version).")
        .reads(&["configuration.LaunchType", "configuration.PlatformVersion"])
        .param(
            "latestLinuxVersion",
            json!("1.4.0"),
            "Current Fargate platform version for Linux",
        )
        .eval(|r, ctx| {
            let lt = conf(r, &["LaunchType"]).and_then(|v| v.as_str().map(str::to_ascii_uppercase));
            if lt.as_deref() != Some("FARGATE") {
                return Outcome::na("not a Fargate service");
            }
            let p = "configuration.PlatformVersion";
            let pv = conf(r, &["PlatformVersion"])
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "LATEST".into());
            if pv.eq_ignore_ascii_case("LATEST") {
                return Outcome::pass(p, pv);
            }
            let want = ctx
                .param("latestLinuxVersion")
                .and_then(Value::as_str)
                .unwrap_or("1.4.0")
                .to_string();
            let parse = |s: &str| {
                s.split('.')
                    .map(|x| x.parse::<u32>().unwrap_or(0))
                    .collect::<Vec<_>>()
            };
            if parse(&pv) >= parse(&want) {
                Outcome::pass(p, pv)
            } else {
                Outcome::fail(format!("platform version {pv} is older than {want}"), p, pv)
            }
        }),
    );
    v.push(
        def(
            "aws.ecs.container-insights",
            Medium,
            &["AWS::ECS::Cluster"],
            "ECS clusters use Container Insights",
        )
        .sh("ECS.12")
        .rule("ecs-container-insights-enabled")
        .fix("Enable the `containerInsights` cluster setting.")
        .reads(&["configuration.ClusterSettings"])
        .eval(|r, _| {
            let p = "configuration.ClusterSettings";
            let settings = conf(r, &["ClusterSettings"])
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            let on = settings.iter().any(|s| {
                ci(s, "Name").and_then(Value::as_str) == Some("containerInsights")
                    && ci(s, "Value")
                        .and_then(Value::as_str)
                        .is_some_and(|v| v == "enabled" || v == "enhanced")
            });
            if on {
                Outcome::pass(p, Value::Array(settings))
            } else {
                Outcome::fail("Container Insights is off", p, Value::Array(settings))
            }
        }),
    );
    v.push(
        def(
            "aws.ecs.task-non-privileged",
            High,
            TASKDEF,
            "ECS containers run unprivileged",
        )
        .sh("ECS.4")
        .rule("ecs-containers-nonprivileged")
        .fix("Remove `privileged: true` from the container definitions.")
        .reads(&["configuration.ContainerDefinitions"])
        .eval(|r, _| {
            let bad: Vec<String> = containers(r)
                .iter()
                .filter(|c| truthy(ci(c, "Privileged")) == Some(true))
                .map(container_name)
                .collect();
            if bad.is_empty() {
                Outcome::pass(
                    "configuration.ContainerDefinitions[*].Privileged",
                    json!(false),
                )
            } else {
                Outcome::fail(
                    format!("container(s) {} run privileged", bad.join(", ")),
                    "configuration.ContainerDefinitions[*].Privileged",
                    json!(bad),
                )
            }
        }),
    );
    v.push(
        def(
            "aws.ecs.task-readonly-root",
            High,
            TASKDEF,
            "ECS containers have read-only root file systems",
        )
        .sh("ECS.5")
        .rule("ecs-containers-readonly-access")
        .fix("Set `readonlyRootFilesystem: true` and mount writable volumes where needed.")
        .reads(&["configuration.ContainerDefinitions"])
        .eval(|r, _| {
            let cs = containers(r);
            if cs.is_empty() {
                return Outcome::unknown("the task definition lists no containers");
            }
            let bad: Vec<String> = cs
                .iter()
                .filter(|c| truthy(ci(c, "ReadonlyRootFilesystem")) != Some(true))
                .map(container_name)
                .collect();
            let p = "configuration.ContainerDefinitions[*].ReadonlyRootFilesystem";
            if bad.is_empty() {
                Outcome::pass(p, json!(true))
            } else {
                Outcome::fail(
                    format!(
                        "container(s) {} have writable root file systems",
                        bad.join(", ")
                    ),
                    p,
                    json!(bad),
                )
            }
        }),
    );
    v.push(
        def("aws.ecs.task-no-secrets-in-env", High, TASKDEF, "ECS task definitions pass no credentials in environment variables")
            .sh("ECS.8")
            .rule("ecs-no-environment-secrets")
            .fix("Move credentials to Secrets Manager or SSM Parameter Store and reference them with `secrets`.")
            .reads(&["configuration.ContainerDefinitions"])
            .param("secretKeys", json!(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ECS_ENGINE_AUTH_DATA"]), "Environment variable names that must not be set in plain text")
            .eval(|r, ctx| {
                let keys = ctx.param_strings("secretKeys");
                let mut bad = Vec::new();
                for c in containers(r) {
                    for e in ci(&c, "Environment").and_then(Value::as_array).cloned().unwrap_or_default() {
                        if let Some(n) = ci(&e, "Name").and_then(Value::as_str)
                            && keys.iter().any(|k| k == n) {
                                bad.push(format!("{}:{n}", container_name(&c)));
                            }
                    }
                }
                let p = "configuration.ContainerDefinitions[*].Environment[*].Name";
                if bad.is_empty() { Outcome::pass(p, json!([])) } else { Outcome::fail(format!("credentials in environment variables: {}", bad.join(", ")), p, json!(bad)) }
            }),
    );
    v.push(
        def(
            "aws.ecs.task-no-host-pid",
            High,
            TASKDEF,
            "ECS task definitions do not share the host's process namespace",
        )
        .sh("ECS.3")
        .rule("ecs-task-definition-pid-mode-check")
        .fix("Remove `pidMode: host` from the task definition.")
        .reads(&["configuration.PidMode"])
        .eval(|r, _| {
            let p = "configuration.PidMode";
            match conf(r, &["PidMode"]) {
                Some(Value::String(s)) if s.eq_ignore_ascii_case("host") => {
                    Outcome::fail("the task shares the host's process namespace", p, s)
                }
                other => Outcome::pass(p, other.unwrap_or(Value::Null)),
            }
        }),
    );
}
