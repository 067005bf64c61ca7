//! Security groups, subnets, load balancers and Route 53.

use std::borrow::Cow;

use serde_json::{Value, json};

use super::*;
use crate::finding::Severity::*;

const SG: &[&str] = &["AWS::EC2::SecurityGroup"];
const INGRESS: &str = "configuration.ipPermissions";

/// One ingress permission open to the whole internet: protocol, from, to, the open range,
/// borrowed from the resource's configuration.
struct OpenRule<'a> {
    protocol: Cow<'a, str>,
    from: Option<i64>,
    to: Option<i64>,
    cidr: &'a str,
}

impl OpenRule<'_> {
    fn all_traffic(&self) -> bool {
        self.protocol == "-1" || self.protocol.eq_ignore_ascii_case("all")
    }
    fn tcp(&self) -> bool {
        self.all_traffic() || self.protocol.eq_ignore_ascii_case("tcp") || self.protocol == "6"
    }
    fn covers(&self, port: i64) -> bool {
        if self.all_traffic() {
            return true;
        }
        match (self.from, self.to) {
            (None, _) | (_, None) => true,
            (Some(f), Some(t)) if f == -1 || t == -1 => true,
            (Some(f), Some(t)) => f <= port && port <= t,
        }
    }
    fn describe(&self) -> String {
        if self.all_traffic() {
            return format!("all traffic from {}", self.cidr);
        }
        let ports = match (self.from, self.to) {
            (Some(f), Some(t)) if f == t => format!("port {f}"),
            (Some(f), Some(t)) => format!("ports {f}-{t}"),
            _ => "all ports".into(),
        };
        format!("{}/{ports} from {}", self.protocol, self.cidr)
    }
    fn to_json(&self) -> Value {
        json!({"ipProtocol": self.protocol, "fromPort": self.from, "toPort": self.to, "cidr": self.cidr})
    }
}

fn cidr_of(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(_) => ci(v, "cidrIp")
            .or_else(|| ci(v, "cidrIpv6"))
            .and_then(Value::as_str),
        _ => None,
    }
}

/// The ingress permissions of a security group (borrowed unless held as a JSON string).
fn ingress(r: &Resource) -> Option<Cow<'_, Value>> {
    cpath_cow(&r.configuration, &["ipPermissions"])
}

/// The range lists of an ingress permission (any spelling of the keys).
fn is_range_list(key: &str) -> bool {
    // Most keys fail on their first or last letter.
    let b = key.as_bytes();
    if b.len() < 8 || b[0] | 0x20 != b'i' || b[b.len() - 1] | 0x20 != b's' {
        return false;
    }
    ["ipRanges", "ipv4Ranges", "ipv6Ranges"]
        .iter()
        .any(|k| key.eq_ignore_ascii_case(k))
}

/// The permissions of `perms` open to the whole internet, each range once, in order. One pass
/// over each permission's keys, and nothing copied but a numeric protocol (every security group
/// is checked, few are open).
fn open_rules(perms: Option<&Value>) -> Vec<OpenRule<'_>> {
    let Some(Value::Array(perms)) = perms else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in perms {
        let Value::Object(m) = p else {
            continue;
        };
        let mut cidrs: Vec<&str> = Vec::new();
        for (_, a) in m.iter().filter(|(k, _)| is_range_list(k)) {
            if let Value::Array(a) = a {
                cidrs.extend(
                    a.iter()
                        .filter_map(cidr_of)
                        .filter(|c| *c == "0.0.0.0/0" || *c == "::/0"),
                );
            }
        }
        if cidrs.is_empty() {
            continue;
        }
        cidrs.sort_unstable();
        cidrs.dedup();
        let protocol = match ci(p, "ipProtocol") {
            Some(Value::String(s)) => Cow::Borrowed(s.as_str()),
            Some(Value::Number(n)) => Cow::Owned(n.to_string()),
            _ => Cow::Borrowed("-1"),
        };
        let from = number(ci(p, "fromPort")).map(|n| n as i64);
        let to = number(ci(p, "toPort")).map(|n| n as i64);
        for cidr in cidrs {
            out.push(OpenRule {
                protocol: protocol.clone(),
                from,
                to,
                cidr,
            });
        }
    }
    out
}

fn no_open_port(r: &Resource, ports: &[i64], explain_pass: bool) -> Outcome {
    let perms = ingress(r);
    let rules = open_rules(perms.as_deref());
    let mut hits: Vec<(i64, &OpenRule)> = Vec::new();
    for port in ports {
        if let Some(rule) = rules.iter().find(|x| x.tcp() && x.covers(*port)) {
            hits.push((*port, rule));
        }
    }
    if hits.is_empty() {
        // The rules open to the internet on other ports, when the pass is kept.
        let open = if explain_pass {
            json!(rules.iter().map(OpenRule::to_json).collect::<Vec<_>>())
        } else {
            Value::Null
        };
        return Outcome::pass(INGRESS, open);
    }
    let ports: Vec<String> = hits.iter().map(|(p, _)| p.to_string()).collect();
    let reason = if hits.len() == 1 && !hits[0].1.all_traffic() {
        format!("ingress allows {}", hits[0].1.describe())
    } else {
        format!(
            "ingress allows {}, exposing port{} {}",
            hits[0].1.describe(),
            if hits.len() > 1 { "s" } else { "" },
            ports.join(", ")
        )
    };
    Outcome::fail(
        reason,
        INGRESS,
        json!(hits.iter().map(|(_, r)| r.to_json()).collect::<Vec<_>>()),
    )
}

const HIGH_RISK_PORTS: &[i64] = &[
    20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389, 4333, 5000, 5432, 5500,
    5601, 8080, 8088, 8888, 9200, 9300,
];

fn lb_attrs(r: &Resource) -> Option<Vec<(String, String)>> {
    let a = supp(r, &["LoadBalancerAttributes"])?;
    let list = a.as_array()?;
    Some(
        list.iter()
            .filter_map(|x| {
                let k = ci(x, "key")?.as_str()?.to_string();
                let v = match ci(x, "value")? {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Some((k, v))
            })
            .collect(),
    )
}

const LB_ATTRS: &str = "supplementaryConfiguration.LoadBalancerAttributes";

fn lb_attr_check(
    r: &Resource,
    key: &str,
    ok: &[&str],
    default: Option<&str>,
    fail: &str,
) -> Outcome {
    let Some(attrs) = lb_attrs(r) else {
        return Outcome::unknown("the load balancer's attributes were not collected");
    };
    let v = attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let path = format!("{LB_ATTRS}[{key}]");
    match v.as_deref().or(default) {
        Some(x) if ok.iter().any(|o| o.eq_ignore_ascii_case(x)) => Outcome::pass(&path, json!(v)),
        _ => Outcome::fail(fail, &path, json!(v)),
    }
}

fn lb_type(r: &Resource) -> String {
    conf(r, &["type"])
        .and_then(|v| v.as_str().map(str::to_ascii_lowercase))
        .unwrap_or_else(|| {
            if r.arn.contains(":loadbalancer/net/") {
                "network".into()
            } else if r.arn.contains(":loadbalancer/gwy/") {
                "gateway".into()
            } else {
                "application".into()
            }
        })
}

pub(super) fn register(v: &mut Vec<Builtin>) {
    v.push(
        def("aws.ec2.sg-no-ssh-from-internet", High, SG, "Security groups do not allow SSH (22) from the internet")
            .sh("EC2.13")
            .cis(&["CIS AWS Foundations Benchmark v1.2.0/4.1"])
            .rule("restricted-ssh")
            .fix("Remove ingress from 0.0.0.0/0 and ::/0 to port 22; use Session Manager or a bastion reachable from known ranges.")
            .reads(&[INGRESS])
            .eval(|r, ctx| no_open_port(r, &[22], ctx.explain_pass)),
    );
    v.push(
        def(
            "aws.ec2.sg-no-rdp-from-internet",
            High,
            SG,
            "Security groups do not allow RDP (3389) from the internet",
        )
        .sh("EC2.14")
        .cis(&["CIS AWS Foundations Benchmark v1.2.0/4.2"])
        .rule("restricted-common-ports")
        .fix("Remove ingress from 0.0.0.0/0 and ::/0 to port 3389.")
        .reads(&[INGRESS])
        .eval(|r, ctx| no_open_port(r, &[3389], ctx.explain_pass)),
    );
    v.push(
        def("aws.ec2.sg-high-risk-ports", Critical, SG, "Security groups do not expose high-risk ports to the internet")
            .sh("EC2.19")
            .rule("vpc-sg-restricted-common-ports")
            .desc("No ingress from 0.0.0.0/0 or ::/0 to 20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389, 4333, 5000, 5432, 5500, 5601, 8080, 8088, 8888, 9200 or 9300.")
            .fix("Restrict these ports to known source ranges or security groups.")
            .reads(&[INGRESS])
            .eval(|r, ctx| no_open_port(r, HIGH_RISK_PORTS, ctx.explain_pass)),
    );
    v.push(
        def("aws.ec2.sg-authorized-ports-only", High, SG, "Security groups open to the internet only on authorised ports")
            .sh("EC2.18")
            .rule("vpc-sg-open-only-to-authorized-ports")
            .fix("Limit ingress from 0.0.0.0/0 and ::/0 to the authorised ports (by default 80 and 443).")
            .reads(&[INGRESS])
            .param("authorizedTcpPorts", json!([80, 443]), "TCP ports that may be open to the internet")
            .eval(|r, ctx| {
                let ok: Vec<i64> = ctx.param_strings("authorizedTcpPorts").iter().filter_map(|p| p.parse().ok()).collect();
                let perms = ingress(r);
                let rules = open_rules(perms.as_deref());
                let bad: Vec<&OpenRule> = rules
                    .iter()
                    .filter(|x| {
                        if !x.tcp() || x.all_traffic() {
                            return true;
                        }
                        match (x.from, x.to) {
                            (Some(f), Some(t)) if f >= 0 && t >= 0 => (f..=t).any(|p| !ok.contains(&p)),
                            _ => true,
                        }
                    })
                    .collect();
                if bad.is_empty() {
                    Outcome::pass(INGRESS, json!(rules.iter().map(OpenRule::to_json).collect::<Vec<_>>()))
                } else {
                    Outcome::fail(
                        format!("ingress allows {}, outside the authorised ports {ok:?}", bad[0].describe()),
                        INGRESS,
                        json!(bad.iter().map(|x| x.to_json()).collect::<Vec<_>>()),
                    )
                }
            }),
    );
    v.push(
        def("aws.ec2.default-sg-closed", High, SG, "The default security group of a VPC allows no traffic")
            .sh("EC2.2")
            .cis(&["CIS AWS Foundations Benchmark v1.2.0/4.3", "CIS AWS Foundations Benchmark v1.4.0/5.3"])
            .rule("vpc-default-security-group-closed")
            .fix("Remove every inbound and outbound rule from the VPC's default security group; use dedicated groups instead.")
            .reads(&["configuration.groupName", INGRESS, "configuration.ipPermissionsEgress"])
            .eval(|r, _| {
                let name = conf(r, &["groupName"]);
                if name.as_ref().and_then(Value::as_str) != Some("default") {
                    return Outcome::na("not a default security group");
                }
                let n_in = conf(r, &["ipPermissions"]).and_then(|v| v.as_array().map(Vec::len)).unwrap_or(0);
                let n_out = conf(r, &["ipPermissionsEgress"]).and_then(|v| v.as_array().map(Vec::len)).unwrap_or(0);
                if n_in + n_out == 0 {
                    Outcome::pass("configuration.groupName", "default")
                } else {
                    Outcome::Fail {
                        reason: format!("the default security group has {n_in} inbound and {n_out} outbound rule(s)"),
                        evidence: vec![
                            crate::finding::Evidence::new(INGRESS, json!(n_in)),
                            crate::finding::Evidence::new("configuration.ipPermissionsEgress", json!(n_out)),
                        ],
                    }
                }
            }),
    );
    v.push(
        def(
            "aws.ec2.subnet-no-auto-public-ip",
            Medium,
            &["AWS::EC2::Subnet"],
            "Subnets do not assign public IPv4 addresses automatically",
        )
        .sh("EC2.15")
        .rule("subnet-auto-assign-public-ip-disabled")
        .fix("Turn off `MapPublicIpOnLaunch` on the subnet.")
        .reads(&["configuration.mapPublicIpOnLaunch"])
        .eval(|r, _| {
            expect_bool(
                conf(r, &["mapPublicIpOnLaunch"]),
                "configuration.mapPublicIpOnLaunch",
                false,
                "the subnet assigns public IPv4 addresses on launch",
                Some(false),
            )
        }),
    );

    // Load balancers
    const ELBV2: &[&str] = &["AWS::ElasticLoadBalancingV2::LoadBalancer"];
    v.push(
        def(
            "aws.elbv2.drop-invalid-headers",
            Medium,
            ELBV2,
            "Application Load Balancers drop invalid HTTP headers",
        )
        .sh("ELB.4")
        .rule("alb-http-drop-invalid-header-enabled")
        .fix("Set `routing.http.drop_invalid_header_fields.enabled` to true.")
        .reads(&[LB_ATTRS])
        .eval(|r, _| {
            if lb_type(r) != "application" {
                return Outcome::na("not an Application Load Balancer");
            }
            lb_attr_check(
                r,
                "routing.http.drop_invalid_header_fields.enabled",
                &["true"],
                Some("false"),
                "invalid HTTP headers are passed to targets",
            )
        }),
    );
    v.push(
        def(
            "aws.elbv2.access-logs",
            Medium,
            ELBV2,
            "Load balancers write access logs",
        )
        .sh("ELB.5")
        .rule("elb-logging-enabled")
        .fix("Enable access logs (`access_logs.s3.enabled`) to an S3 bucket.")
        .reads(&[LB_ATTRS])
        .eval(|r, _| {
            if lb_type(r) == "gateway" {
                return Outcome::na("Gateway Load Balancers have no access logs");
            }
            lb_attr_check(
                r,
                "access_logs.s3.enabled",
                &["true"],
                Some("false"),
                "access logging is off",
            )
        }),
    );
    v.push(
        def(
            "aws.elbv2.deletion-protection",
            Medium,
            ELBV2,
            "Load balancers have deletion protection",
        )
        .sh("ELB.6")
        .rule("elb-deletion-protection-enabled")
        .fix("Set `deletion_protection.enabled` to true.")
        .reads(&[LB_ATTRS])
        .eval(|r, _| {
            lb_attr_check(
                r,
                "deletion_protection.enabled",
                &["true"],
                Some("false"),
                "deletion protection is off",
            )
        }),
    );
    v.push(
        def(
            "aws.elbv2.desync-mitigation",
            Medium,
            ELBV2,
            "Application Load Balancers use defensive or strictest desync mitigation",
        )
        .sh("ELB.12")
        .rule("alb-desync-mode-check")
        .fix("Set `routing.http.desync_mitigation_mode` to `defensive` or `strictest`.")
        .reads(&[LB_ATTRS])
        .eval(|r, _| {
            if lb_type(r) != "application" {
                return Outcome::na("not an Application Load Balancer");
            }
            lb_attr_check(
                r,
                "routing.http.desync_mitigation_mode",
                &["defensive", "strictest"],
                Some("defensive"),
                "desync mitigation mode is `monitor`",
            )
        }),
    );
    v.push(
        def(
            "aws.elbv2.multi-az",
            Medium,
            ELBV2,
            "Load balancers span at least two Availability Zones",
        )
        .sh("ELB.13")
        .rule("elbv2-multiple-az")
        .fix("Attach subnets in at least two Availability Zones.")
        .reads(&["configuration.availabilityZones"])
        .eval(|r, _| {
            let p = "configuration.availabilityZones";
            let n = conf(r, &["availabilityZones"])
                .and_then(|v| v.as_array().map(Vec::len))
                .unwrap_or(0);
            if n >= 2 {
                Outcome::pass(p, json!(n))
            } else {
                Outcome::fail(
                    format!("the load balancer spans {n} Availability Zone(s)"),
                    p,
                    json!(n),
                )
            }
        }),
    );
    v.push(
        def(
            "aws.elbv2.http-to-https-redirect",
            Medium,
            &["AWS::ElasticLoadBalancingV2::Listener"],
            "HTTP listeners redirect to HTTPS",
        )
        .sh("ELB.1")
        .rule("alb-http-to-https-redirection-check")
        .fix("Make the HTTP listener's default action a redirect to HTTPS (status HTTP_301).")
        .reads(&["configuration.Protocol", "configuration.DefaultActions"])
        .eval(|r, _| {
            let proto =
                conf(r, &["Protocol"]).and_then(|v| v.as_str().map(str::to_ascii_uppercase));
            match proto.as_deref() {
                Some("HTTP") => {}
                Some(other) => return Outcome::na(format!("listener protocol is {other}")),
                None => {
                    return Outcome::Error {
                        reason: "the listener has no `Protocol`".into(),
                    };
                }
            }
            let actions = conf(r, &["DefaultActions"])
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            let redirects = !actions.is_empty()
                && actions.iter().all(|a| {
                    ci(a, "Type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.eq_ignore_ascii_case("redirect"))
                        && cpath(a, &["RedirectConfig", "Protocol"])
                            .and_then(|p| p.as_str().map(|s| s.eq_ignore_ascii_case("HTTPS")))
                            .unwrap_or(false)
                });
            if redirects {
                Outcome::pass("configuration.DefaultActions", Value::Array(actions))
            } else {
                Outcome::fail(
                    "the HTTP listener does not redirect to HTTPS",
                    "configuration.DefaultActions",
                    Value::Array(actions),
                )
            }
        }),
    );

    // Route 53
    v.push(
        def("aws.route53.query-logging", Medium, &["AWS::Route53::HostedZone"], "Public hosted zones log DNS queries")
            .sh("Route53.2")
            .rule("route53-query-logging-enabled")
            .fix("Create a query logging configuration for the hosted zone (CloudWatch Logs in us-east-1).")
            .reads(&["configuration.HostedZoneConfig", "configuration.VPCs", "configuration.QueryLoggingConfig"])
            .eval(|r, _| {
                let private = truthy(conf(r, &["HostedZoneConfig", "PrivateZone"]).as_ref())
                    .unwrap_or(false)
                    || conf(r, &["VPCs"]).and_then(|v| v.as_array().map(|a| !a.is_empty())).unwrap_or(false);
                if private {
                    return Outcome::na("private hosted zone");
                }
                expect_nonempty(conf(r, &["QueryLoggingConfig", "CloudWatchLogsLogGroupArn"]), "configuration.QueryLoggingConfig.CloudWatchLogsLogGroupArn", "DNS query logging is not configured")
            }),
    );
}
