//! Amazon Resource Names: `arn:partition:service:region:account:resource`.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The partitions an ARN may name.
pub const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// A parsed ARN. Printing gives back exactly the text that was parsed.
///
/// The resource part keeps its original text; [`Arn::resource_type`] and [`Arn::resource_id`]
/// split it on the first `/` or `:` (the forms `type/id` and `type:id`), or give no type for a
/// bare id. S3 ARNs name a bucket (or object) with no type, and S3 and IAM ARNs have no region
/// (S3 bucket ARNs have no account either).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Arn {
    partition: String,
    service: String,
    region: String,
    account: String,
    resource: String,
}

impl Arn {
    /// Parses an ARN.
    pub fn parse(text: &str) -> Result<Arn, Error> {
        let err = |reason: &str| Error::Arn {
            arn: text.to_string(),
            reason: reason.to_string(),
        };
        let mut parts = text.splitn(6, ':');
        let (
            Some(prefix),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return Err(err("expected 6 parts separated by `:`"));
        };
        if prefix != "arn" {
            return Err(err("it does not start with `arn:`"));
        }
        if !PARTITIONS.contains(&partition) {
            return Err(err(&format!("unknown partition `{partition}`")));
        }
        if service.is_empty()
            || !service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(err(&format!("invalid service `{service}`")));
        }
        if !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(err(&format!("invalid region `{region}`")));
        }
        if !(account.is_empty()
            || account == "aws"
            || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())))
        {
            return Err(err(&format!(
                "invalid account `{account}` (expected 12 digits, `aws` or nothing)"
            )));
        }
        if resource.is_empty() {
            return Err(err("the resource part is empty"));
        }
        if resource.chars().any(char::is_control) {
            return Err(err("the resource part holds a control character"));
        }
        Ok(Arn {
            partition: partition.to_string(),
            service: service.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            resource: resource.to_string(),
        })
    }

    /// Builds an ARN from its parts (validated as [`Arn::parse`] does).
    pub fn from_parts(
        partition: &str,
        service: &str,
        region: &str,
        account: &str,
        resource: &str,
    ) -> Result<Arn, Error> {
        Arn::parse(&format!(
            "arn:{partition}:{service}:{region}:{account}:{resource}"
        ))
    }

    /// `aws`, `aws-cn`, `aws-us-gov`, ...
    pub fn partition(&self) -> &str {
        &self.partition
    }
    /// The service namespace, e.g. `s3`, `ec2`, `elasticloadbalancing`.
    pub fn service(&self) -> &str {
        &self.service
    }
    /// The region, or `None` for global resources (S3 buckets, IAM, Route 53).
    pub fn region(&self) -> Option<&str> {
        (!self.region.is_empty()).then_some(self.region.as_str())
    }
    /// The account, or `None` (S3 bucket ARNs carry none).
    pub fn account(&self) -> Option<&str> {
        (!self.account.is_empty()).then_some(self.account.as_str())
    }
    /// The whole resource part, as written.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    fn split(&self) -> (Option<&str>, &str) {
        if self.service == "s3" {
            // `bucket` or `bucket/key`: S3 resource parts carry no type.
            return (None, &self.resource);
        }
        match self.resource.find(['/', ':']) {
            Some(i) => (Some(&self.resource[..i]), &self.resource[i + 1..]),
            None => (None, &self.resource),
        }
    }

    /// The resource type of `type/id` and `type:id` forms (`instance`, `db`, `function`, ...).
    pub fn resource_type(&self) -> Option<&str> {
        self.split().0
    }

    /// The resource id: what follows the type and its separator, or the whole resource part.
    pub fn resource_id(&self) -> &str {
        self.split().1
    }

    /// The last segment of the id: the name for paths such as IAM's `user/path/name`.
    pub fn name(&self) -> &str {
        let id = self.resource_id();
        if self.service == "s3" {
            return id;
        }
        id.rsplit('/').next().unwrap_or(id)
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

impl FromStr for Arn {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Arn::parse(s)
    }
}

impl serde::Serialize for Arn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Arn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Arn::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_forms() -> Result<(), Error> {
        let a = Arn::parse("arn:aws:ec2:us-east-1:123456789012:instance/i-0abc")?;
        assert_eq!(a.resource_type(), Some("instance"));
        assert_eq!(a.resource_id(), "i-0abc");
        let a = Arn::parse("arn:aws-cn:rds:cn-north-1:123456789012:db:mydb")?;
        assert_eq!(a.partition(), "aws-cn");
        assert_eq!(a.resource_type(), Some("db"));
        assert_eq!(a.resource_id(), "mydb");
        let a = Arn::parse("arn:aws:s3:::my-bucket")?;
        assert_eq!(a.region(), None);
        assert_eq!(a.account(), None);
        assert_eq!(a.resource_type(), None);
        assert_eq!(a.resource_id(), "my-bucket");
        let a = Arn::parse("arn:aws-us-gov:iam::123456789012:user/division/alice")?;
        assert_eq!(a.region(), None);
        assert_eq!(a.account(), Some("123456789012"));
        assert_eq!(a.resource_type(), Some("user"));
        assert_eq!(a.resource_id(), "division/alice");
        assert_eq!(a.name(), "alice");
        let a = Arn::parse("arn:aws:sns:us-east-1:123456789012:my-topic")?;
        assert_eq!(a.resource_type(), None);
        assert_eq!(a.resource_id(), "my-topic");
        let a = Arn::parse("arn:aws:lambda:us-east-1:123456789012:function:f:prod")?;
        assert_eq!(a.resource_type(), Some("function"));
        assert_eq!(a.resource_id(), "f:prod");
        let a = Arn::parse("arn:aws:iam::aws:policy/AdministratorAccess")?;
        assert_eq!(a.account(), Some("aws"));
        Ok(())
    }

    #[test]
    fn refuses_bad_arns_with_a_reason() {
        for (text, why) in [
            ("arn:aws:s3", "6 parts"),
            ("urn:aws:s3:::b", "`arn:`"),
            ("arn:azure:s3:::b", "unknown partition `azure`"),
            (
                "arn:aws:EC2:us-east-1:123456789012:instance/i-1",
                "invalid service",
            ),
            (
                "arn:aws:ec2:us-east-1:12345:instance/i-1",
                "invalid account `12345`",
            ),
            ("arn:aws:ec2:us-east-1:123456789012:", "empty"),
        ] {
            match Arn::parse(text) {
                Ok(a) => panic!("{text} parsed as {a:?}"),
                Err(e) => assert!(e.to_string().contains(why), "{text}: {e}"),
            }
        }
    }

    fn arb_arn() -> impl Strategy<Value = String> {
        let partition = prop::sample::select(PARTITIONS.to_vec());
        let service = "[a-z][a-z0-9-]{0,20}";
        let region = prop_oneof![Just(String::new()), "[a-z]{2}-[a-z]{4,9}-[1-9]"];
        let account = prop_oneof![Just(String::new()), "[0-9]{12}", Just("aws".to_string())];
        let resource = prop_oneof![
            "[a-zA-Z0-9_.-]{1,30}",
            "[a-z-]{1,12}/[a-zA-Z0-9/_.+=@-]{1,40}",
            "[a-z-]{1,12}:[a-zA-Z0-9:/_.+=@-]{1,40}",
            "\\PC{1,20}",
        ];
        (partition, service, region, account, resource)
            .prop_map(|(p, s, r, a, res)| format!("arn:{p}:{s}:{r}:{a}:{res}"))
    }

    proptest! {
        #[test]
        fn print_parse_round_trip(text in arb_arn()) {
            let arn = Arn::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(arn.to_string(), text.clone());
            let again = Arn::parse(&arn.to_string()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(again, arn);
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,80}") {
            let _ = Arn::parse(&text);
        }
    }
}
