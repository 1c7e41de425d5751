//! [`S3Config`]: every configuration key of a MinIO / S3 integration, validated once.

use pathops_core::Configuration;
use pathops_core::validate::{Problem, ValidationError};
use serde_json::Value;

use crate::http::IntegrationHttp;

/// Which server the base URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// MinIO (the default): its unauthenticated health probes are called, then the bucket.
    Minio,
    /// Any other S3 implementation (AWS, Ceph RGW, moto, …): only the signed bucket call.
    S3,
}

impl Flavor {
    /// The configuration value (`minio`, `s3`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minio => "minio",
            Self::S3 => "s3",
        }
    }
}

/// How the bucket is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressingStyle {
    /// `https://host/<bucket>` (the default; what MinIO serves without a domain setting).
    Path,
    /// `https://<bucket>.host/` (AWS's default; MinIO with `MINIO_DOMAIN`).
    Virtual,
}

impl AddressingStyle {
    /// The configuration value (`path`, `virtual`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Virtual => "virtual",
        }
    }
}

/// The configuration of a MinIO / S3 integration (see the [module docs](super)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The evidence bucket.
    pub bucket: String,
    /// The region requests are signed for.
    pub region: String,
    /// Path-style or virtual-hosted addressing.
    pub addressing_style: AddressingStyle,
    /// MinIO or another S3 implementation.
    pub flavor: Flavor,
    /// MinIO: also ask whether the node can be taken down (`?maintenance=true`).
    pub maintenance: bool,
}

/// The region signed for when the configuration names none (AWS's and MinIO's default).
pub const DEFAULT_REGION: &str = "us-east-1";

/// Every key a MinIO / S3 integration may have; any other is refused by name.
pub const KEYS: [&str; 7] = [
    "bucket",
    "region",
    "addressing_style",
    "flavor",
    "maintenance",
    IntegrationHttp::PROXY_KEY,
    IntegrationHttp::CA_KEY,
];

fn at_key(key: &str, problem: Problem) -> ValidationError {
    ValidationError::new(
        "configuration",
        Problem::AtKey {
            key: key.to_owned(),
            problem: Box::new(problem),
        },
    )
}

/// S3's naming rules for general purpose buckets (which MinIO enforces too): 3 to 63
/// characters of lowercase letters, digits, dots and hyphens; a letter or digit first and
/// last; no two adjacent dots, nor a dot next to a hyphen; not an IPv4 address; none of the
/// prefixes and suffixes AWS reserves.
pub fn validate_bucket(name: &str) -> Result<(), Problem> {
    if name.is_empty() {
        return Err(Problem::Empty);
    }
    if let Some(index) = name
        .bytes()
        .position(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'))
    {
        return Err(Problem::InvalidCharacter { index });
    }
    if name.len() < 3 {
        return Err(Problem::TooShort { min: 3 });
    }
    if name.len() > 63 {
        return Err(Problem::TooLong { max: 63 });
    }
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !edge(name.as_bytes().first()) || !edge(name.as_bytes().last()) {
        return Err(Problem::Malformed);
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Err(Problem::Malformed);
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(Problem::Malformed);
    }
    const PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    if PREFIXES.iter().any(|p| name.starts_with(p)) || SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return Err(Problem::Malformed);
    }
    Ok(())
}

/// A region name: a letter, then letters, digits, `-` or `_` (AWS's `eu-west-1`, or a
/// MinIO site region such as `dc-paris`), at most 64 characters.
fn validate_region(region: &str) -> Result<(), Problem> {
    if region.is_empty() {
        return Err(Problem::Empty);
    }
    if region.len() > 64 {
        return Err(Problem::TooLong { max: 64 });
    }
    if let Some(index) = region
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    {
        return Err(Problem::InvalidCharacter { index });
    }
    if !region.as_bytes()[0].is_ascii_alphabetic() {
        return Err(Problem::Malformed);
    }
    Ok(())
}

fn string<'a>(
    configuration: &'a Configuration,
    key: &str,
) -> Result<Option<&'a str>, ValidationError> {
    match configuration.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(at_key(key, Problem::UnknownValue)),
    }
}

impl S3Config {
    /// Reads and validates a configuration; errors name the key, never its value.
    pub fn from_configuration(configuration: &Configuration) -> Result<Self, ValidationError> {
        IntegrationHttp::from_configuration(configuration)?;
        crate::check::refuse_unknown_keys(configuration, &KEYS)?;
        let bucket = string(configuration, "bucket")?
            .ok_or_else(|| at_key("bucket", Problem::Empty))?
            .to_owned();
        validate_bucket(&bucket).map_err(|p| at_key("bucket", p))?;
        let region = string(configuration, "region")?
            .unwrap_or(DEFAULT_REGION)
            .to_owned();
        validate_region(&region).map_err(|p| at_key("region", p))?;
        let addressing_style = match string(configuration, "addressing_style")? {
            None | Some("path") => AddressingStyle::Path,
            Some("virtual") => AddressingStyle::Virtual,
            Some(_) => return Err(at_key("addressing_style", Problem::UnknownValue)),
        };
        let flavor = match string(configuration, "flavor")? {
            None | Some("minio") => Flavor::Minio,
            Some("s3") => Flavor::S3,
            Some(_) => return Err(at_key("flavor", Problem::UnknownValue)),
        };
        let maintenance = match configuration.get("maintenance") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(at_key("maintenance", Problem::UnknownValue)),
        };
        if maintenance && flavor == Flavor::S3 {
            // Only MinIO has the probe: refused rather than silently skipped.
            return Err(at_key("maintenance", Problem::UnknownValue));
        }
        Ok(Self {
            bucket,
            region,
            addressing_style,
            flavor,
            maintenance,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(v: Value) -> Result<S3Config, ValidationError> {
        S3Config::from_configuration(&Configuration::new(v).unwrap())
    }

    #[test]
    fn bucket_names_follow_s3s_rules() {
        for good in [
            "evidence",
            "abc",
            "a-b.c1",
            "pathops-evidence-2026",
            &"a".repeat(63),
        ] {
            assert_eq!(validate_bucket(good), Ok(()), "{good}");
        }
        assert_eq!(validate_bucket(""), Err(Problem::Empty));
        assert_eq!(validate_bucket("ab"), Err(Problem::TooShort { min: 3 }));
        assert_eq!(
            validate_bucket(&"a".repeat(64)),
            Err(Problem::TooLong { max: 63 })
        );
        assert_eq!(
            validate_bucket("Evidence"),
            Err(Problem::InvalidCharacter { index: 0 })
        );
        assert_eq!(
            validate_bucket("evi_dence"),
            Err(Problem::InvalidCharacter { index: 3 })
        );
        assert_eq!(
            validate_bucket("evi dence"),
            Err(Problem::InvalidCharacter { index: 3 })
        );
        for bad in [
            "-evidence",
            "evidence-",
            ".evidence",
            "evi..dence",
            "evi.-dence",
            "evi-.dence",
            "192.168.5.4",
            "xn--evidence",
            "sthree-evidence",
            "amzn-s3-demo-x",
            "evidence-s3alias",
            "evidence--ol-s3",
            "evidence.mrap",
            "evidence--x-s3",
            "evidence--table-s3",
        ] {
            assert_eq!(validate_bucket(bad), Err(Problem::Malformed), "{bad}");
        }
    }

    #[test]
    fn defaults_and_every_key() {
        let c = cfg(json!({"bucket": "evidence"})).unwrap();
        assert_eq!(c.region, DEFAULT_REGION);
        assert_eq!(c.flavor, Flavor::Minio);
        assert_eq!(c.addressing_style, AddressingStyle::Path);
        assert!(!c.maintenance);
        let c = cfg(
            json!({"bucket": "evidence", "region": "eu-west-1", "flavor": "s3",
            "addressing_style": "virtual", "proxy_url": null}),
        )
        .unwrap();
        assert_eq!(
            (c.region.as_str(), c.flavor, c.addressing_style),
            ("eu-west-1", Flavor::S3, AddressingStyle::Virtual)
        );
        assert!(
            cfg(json!({"bucket": "evidence", "maintenance": true}))
                .unwrap()
                .maintenance
        );
    }

    #[test]
    fn bad_values_are_refused_naming_the_key_not_the_value() {
        for (v, key) in [
            (json!({}), "bucket"),
            (json!({"bucket": 3}), "bucket"),
            (json!({"bucket": "No_Such"}), "bucket"),
            (json!({"bucket": "evidence", "region": ""}), "region"),
            (json!({"bucket": "evidence", "region": "eu west"}), "region"),
            (json!({"bucket": "evidence", "region": "1eu"}), "region"),
            (json!({"bucket": "evidence", "flavor": "aws"}), "flavor"),
            (
                json!({"bucket": "evidence", "addressing_style": "host"}),
                "addressing_style",
            ),
            (
                json!({"bucket": "evidence", "maintenance": "yes"}),
                "maintenance",
            ),
            (
                json!({"bucket": "evidence", "flavor": "s3", "maintenance": true}),
                "maintenance",
            ),
            (json!({"bucket": "evidence", "buckets": "x"}), "buckets"),
            (
                json!({"bucket": "evidence", "access_key_id": "AKIA"}),
                "access_key_id",
            ),
        ] {
            let e = cfg(v.clone()).unwrap_err().to_string();
            assert!(e.contains(&format!("`{key}`")), "{v}: {e}");
            assert!(!e.contains("No_Such") && !e.contains("AKIA"), "{e}");
        }
    }
}
