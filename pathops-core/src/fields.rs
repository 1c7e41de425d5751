//! Validated field types of an [`Integration`](crate::Integration): [`IntegrationName`],
//! [`BaseUrl`], [`Configuration`], [`Tags`], [`Environment`] and [`Description`].
//!
//! Each type can only hold a valid value, so an `Integration` read from anywhere is valid.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::validate::{Problem, ValidationError};

/// An integration's display name, unique per tenant among live integrations.
///
/// Rules: 1–128 characters (Unicode scalar values), no leading or trailing whitespace, and only
/// Unicode letters, marks and numbers, the space, and `- _ . : / ( ) @ + #`. Control characters
/// and other symbols are refused.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IntegrationName(String);

impl IntegrationName {
    /// The most characters a name may have.
    pub const MAX_CHARS: usize = 128;

    /// Validates and wraps a name.
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        let err = |problem| Err(ValidationError::new("name", problem));
        if value.is_empty() {
            return err(Problem::Empty);
        }
        if value.chars().count() > Self::MAX_CHARS {
            return err(Problem::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        if value.trim() != value {
            return err(Problem::SurroundingWhitespace);
        }
        let allowed = |c: char| {
            c.is_alphanumeric()
                || c == ' '
                || matches!(c, '-' | '_' | '.' | ':' | '/' | '(' | ')' | '@' | '+' | '#')
                || is_combining_mark(c)
        };
        if let Some((index, _)) = value.char_indices().find(|(_, c)| !allowed(*c)) {
            return err(Problem::InvalidCharacter { index });
        }
        Ok(Self(value))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Combining marks (accents written as separate code points), so that decomposed Unicode
/// names are accepted as well as composed ones.
fn is_combining_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// An optional free-text description: at most 1,024 characters, no control characters other
/// than newline and tab.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);

impl Description {
    /// The most characters a description may have.
    pub const MAX_CHARS: usize = 1024;

    /// Validates and wraps a description.
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        if value.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "description",
                Problem::TooLong {
                    max: Self::MAX_CHARS,
                },
            ));
        }
        if let Some((index, _)) = value
            .char_indices()
            .find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\t'))
        {
            return Err(ValidationError::new(
                "description",
                Problem::InvalidCharacter { index },
            ));
        }
        Ok(Self(value))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where an integration is reached: an absolute `http` or `https` URL with a host, no
/// credentials, no query and no fragment, normalized without a trailing slash
/// (`https://gitlab.example.com`, `https://example.com/gitlab`), and at most
/// [`BaseUrl::MAX_LEN`] bytes once normalized: normalizing percent-encodes non-ASCII paths and
/// punycodes host names, so a short input can grow, and the limit holds for what is stored.
///
/// ```
/// use pathops_core::BaseUrl;
///
/// let url = BaseUrl::parse("HTTPS://GitLab.Example.com:443/group/")?;
/// assert_eq!(url.as_str(), "https://gitlab.example.com/group");
/// assert!(BaseUrl::parse("https://user:pw@gitlab.example.com").is_err());
/// # Ok::<(), pathops_core::ValidationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BaseUrl(String);

impl BaseUrl {
    /// The longest accepted URL, in bytes, once normalized.
    pub const MAX_LEN: usize = 2048;

    /// Parses, validates and normalizes a base URL.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let err = |problem| ValidationError::new("base_url", problem);
        if input.is_empty() {
            return Err(err(Problem::Empty));
        }
        // Normalizing only shrinks an input by dropping a default port, dot segments and
        // trailing slashes, so an input this long can never fit: refuse it before parsing.
        let too_long = || {
            err(Problem::TooLarge {
                max_bytes: Self::MAX_LEN,
            })
        };
        if input.len() > 2 * Self::MAX_LEN {
            return Err(too_long());
        }
        let url = Url::parse(input).map_err(|e| err(Problem::InvalidUrl(e)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(err(Problem::UnsupportedScheme));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(err(Problem::MissingHost));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(err(Problem::UserInfoNotAllowed));
        }
        if url.query().is_some() {
            return Err(err(Problem::QueryNotAllowed));
        }
        if url.fragment().is_some() {
            return Err(err(Problem::FragmentNotAllowed));
        }
        let mut normalized = String::from(url);
        while normalized.ends_with('/') {
            normalized.pop();
        }
        if normalized.len() > Self::MAX_LEN {
            return Err(too_long());
        }
        Ok(Self(normalized))
    }

    /// The normalized URL as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL parsed (always succeeds: the value was validated).
    pub fn to_url(&self) -> Url {
        Url::parse(&self.0).expect("BaseUrl holds a validated URL")
    }

    /// The host name or address.
    pub fn host(&self) -> String {
        self.to_url().host_str().unwrap_or_default().to_owned()
    }

    /// Appends `path` (relative, with or without a leading slash) to the base URL, keeping any
    /// path prefix of the base: `https://h/gitlab` + `api/v4/user` = `https://h/gitlab/api/v4/user`.
    pub fn join(&self, path: &str) -> String {
        format!("{}/{}", self.0, path.trim_start_matches('/'))
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl FromStr for BaseUrl {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for BaseUrl {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<BaseUrl> for String {
    fn from(value: BaseUrl) -> Self {
        value.0
    }
}

/// Provider-specific settings: a JSON object of at most [`Configuration::MAX_BYTES`] bytes once
/// serialized and at most [`Configuration::MAX_DEPTH`] levels deep, with no NUL character in
/// any key or string (PostgreSQL cannot store one in `jsonb`). Every accepted value reads back
/// unchanged from every store. Never holds a secret: credentials are referenced through an
/// [`AuthRef`](crate::AuthRef).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value", into = "serde_json::Value")]
pub struct Configuration(serde_json::Map<String, serde_json::Value>);

impl Configuration {
    /// The largest accepted configuration, serialized, in bytes (64 KiB).
    pub const MAX_BYTES: usize = 64 * 1024;

    /// The deepest accepted nesting: the object itself is level 1, a value inside it level 2.
    /// JSON parsers refuse deep documents on read (serde_json stops at 128 levels), so the
    /// limit keeps a stored configuration readable with room to spare.
    pub const MAX_DEPTH: usize = 32;

    /// An empty object.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Validates a JSON value.
    ///
    /// One normalization: a whole number written as a float of magnitude 10^16 or more that
    /// fits a 64-bit integer (`1e16`, `-2.5e17`) is kept as that integer. JSON does not tell
    /// the two apart, and PostgreSQL's `jsonb` writes such a number back as an integer, so
    /// without it the value would read back differently from one store to another.
    pub fn new(value: serde_json::Value) -> Result<Self, ValidationError> {
        let serde_json::Value::Object(mut map) = value else {
            return Err(ValidationError::new("configuration", Problem::NotAnObject));
        };
        // Depth first: serializing a value nested without bound would recurse without bound.
        check_json(&map)?;
        canonical_numbers(&mut map);
        let size = serde_json::to_vec(&map)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > Self::MAX_BYTES {
            return Err(ValidationError::new(
                "configuration",
                Problem::TooLarge {
                    max_bytes: Self::MAX_BYTES,
                },
            ));
        }
        Ok(Self(map))
    }

    /// Parses and validates a JSON document.
    pub fn from_json(text: &str) -> Result<Self, ValidationError> {
        if text.len() > Self::MAX_BYTES {
            return Err(ValidationError::new(
                "configuration",
                Problem::TooLarge {
                    max_bytes: Self::MAX_BYTES,
                },
            ));
        }
        let value = serde_json::from_str(text).map_err(|e| {
            // serde_json refuses documents nested beyond its recursion limit while parsing.
            let problem = if e.to_string().starts_with("recursion limit exceeded") {
                Problem::TooDeep {
                    max: Self::MAX_DEPTH,
                }
            } else {
                Problem::NotAnObject
            };
            ValidationError::new("configuration", problem)
        })?;
        Self::new(value)
    }

    /// The object.
    pub fn as_map(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }

    /// One setting.
    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.0.get(key)
    }

    /// The configuration as a JSON value.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::Value::Object(self.0.clone())
    }
}

impl TryFrom<serde_json::Value> for Configuration {
    type Error = ValidationError;
    fn try_from(value: serde_json::Value) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Configuration> for serde_json::Value {
    fn from(value: Configuration) -> Self {
        serde_json::Value::Object(value.0)
    }
}

/// See [`Configuration::new`]: large whole floats become the integers they are.
fn canonical_numbers(map: &mut serde_json::Map<String, serde_json::Value>) {
    use serde_json::Value;
    let mut stack: Vec<&mut Value> = map.values_mut().collect();
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => stack.extend(map.values_mut()),
            Value::Number(n) => {
                let Some(f) = n.as_f64().filter(|_| n.is_f64()) else {
                    continue;
                };
                if f.abs() < 1e16 || f.fract() != 0.0 {
                    continue;
                }
                // Exact: every f64 this large is a whole number, and the range checks keep
                // the casts from saturating (-2^63 ..< 2^63, then 0 ..< 2^64; both bounds
                // are exact in f64).
                const I64_MIN: f64 = i64::MIN as f64;
                const U64_END: f64 = -2.0 * I64_MIN;
                if (I64_MIN..-I64_MIN).contains(&f) {
                    *n = serde_json::Number::from(f as i64);
                } else if (0.0..U64_END).contains(&f) {
                    *n = serde_json::Number::from(f as u64);
                }
            }
            _ => {}
        }
    }
}

/// Checks nesting depth and NUL characters without recursing, so that no input can exhaust
/// the stack.
fn check_json(map: &serde_json::Map<String, serde_json::Value>) -> Result<(), ValidationError> {
    use serde_json::Value;
    let err = |problem| Err(ValidationError::new("configuration", problem));
    let has_nul = |s: &str| s.contains('\0');
    // (value, its level); the object's own values are on level 2.
    let mut stack: Vec<(&Value, usize)> = Vec::new();
    for (key, value) in map {
        if has_nul(key) {
            return err(Problem::NulCharacter);
        }
        stack.push((value, 2));
    }
    while let Some((value, depth)) = stack.pop() {
        let children = match value {
            Value::String(s) if has_nul(s) => return err(Problem::NulCharacter),
            Value::Array(items) if !items.is_empty() => items.len(),
            Value::Object(map) if !map.is_empty() => map.len(),
            _ => continue,
        };
        if depth >= Configuration::MAX_DEPTH {
            return err(Problem::TooDeep {
                max: Configuration::MAX_DEPTH,
            });
        }
        stack.reserve(children);
        match value {
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(map) => {
                for (key, v) in map {
                    if has_nul(key) {
                        return err(Problem::NulCharacter);
                    }
                    stack.push((v, depth + 1));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Labels on an integration: each trimmed, 1–64 characters without whitespace or control
/// characters; at most 32; kept deduplicated and sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Tags(Vec<String>);

impl Tags {
    /// The most tags an integration may carry.
    pub const MAX_TAGS: usize = 32;
    /// The most characters one tag may have.
    pub const MAX_CHARS: usize = 64;

    /// Trims, validates, deduplicates and sorts.
    pub fn new<I, S>(tags: I) -> Result<Self, ValidationError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let err = |problem| Err(ValidationError::new("tags", problem));
        let mut out = Vec::new();
        for tag in tags {
            let tag = tag.as_ref().trim();
            if tag.is_empty() {
                return err(Problem::Empty);
            }
            if tag.chars().count() > Self::MAX_CHARS {
                return err(Problem::TooLong {
                    max: Self::MAX_CHARS,
                });
            }
            if let Some((index, _)) = tag
                .char_indices()
                .find(|(_, c)| c.is_whitespace() || c.is_control())
            {
                return err(Problem::InvalidCharacter { index });
            }
            out.push(tag.to_owned());
        }
        out.sort();
        out.dedup();
        if out.len() > Self::MAX_TAGS {
            return err(Problem::TooMany {
                max: Self::MAX_TAGS,
            });
        }
        Ok(Self(out))
    }

    /// The tags, sorted.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// Whether `tag` is present.
    pub fn contains(&self, tag: &str) -> bool {
        self.0.binary_search_by(|t| t.as_str().cmp(tag)).is_ok()
    }

    /// Whether there are no tags.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Vec<String>> for Tags {
    type Error = ValidationError;
    fn try_from(value: Vec<String>) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Tags> for Vec<String> {
    fn from(value: Tags) -> Self {
        value.0
    }
}

/// The deployment environment an integration serves: one of the documented names, or a custom
/// name of lowercase ASCII letters, digits and `-` (1–32 characters, starting with a letter).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[non_exhaustive]
pub enum Environment {
    /// `production`
    Production,
    /// `staging`
    Staging,
    /// `development`
    Development,
    /// `test`
    Test,
    /// Any other environment name.
    Custom(String),
}

impl Environment {
    /// The stable string form.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Production => "production",
            Self::Staging => "staging",
            Self::Development => "development",
            Self::Test => "test",
            Self::Custom(name) => name,
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "production" => Self::Production,
            "staging" => Self::Staging,
            "development" => Self::Development,
            "test" => Self::Test,
            other => {
                let err = |problem| Err(ValidationError::new("environment", problem));
                if other.is_empty() {
                    return err(Problem::Empty);
                }
                if other.len() > 32 {
                    return err(Problem::TooLong { max: 32 });
                }
                if let Some((index, _)) = other
                    .char_indices()
                    .find(|(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
                {
                    return err(Problem::InvalidCharacter { index });
                }
                if !other.starts_with(|c: char| c.is_ascii_lowercase()) {
                    return err(Problem::InvalidCharacter { index: 0 });
                }
                Self::Custom(other.to_owned())
            }
        })
    }
}

impl TryFrom<String> for Environment {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Environment> for String {
    fn from(value: Environment) -> Self {
        value.as_str().to_owned()
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }
        impl TryFrom<String> for $t {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }
        impl From<$t> for String {
            fn from(value: $t) -> Self {
                value.0
            }
        }
        impl FromStr for $t {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
    )*};
}
display_as_str!(IntegrationName, Description);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problem<T: std::fmt::Debug>(r: Result<T, ValidationError>) -> (&'static str, Problem) {
        let e = r.unwrap_err();
        (e.field, e.problem)
    }

    #[test]
    fn names() {
        for ok in [
            "GitLab (prod)",
            "registry.example.com:443/team",
            "Ünïcødé 名前",
            "e\u{301}cole",
        ] {
            assert!(IntegrationName::new(ok).is_ok(), "{ok}");
        }
        assert!(IntegrationName::new("n".repeat(128)).is_ok());
        assert!(
            IntegrationName::new("名".repeat(128)).is_ok(),
            "limit is in characters"
        );
        assert_eq!(problem(IntegrationName::new("")), ("name", Problem::Empty));
        assert_eq!(
            problem(IntegrationName::new("n".repeat(129))),
            ("name", Problem::TooLong { max: 128 })
        );
        assert_eq!(
            problem(IntegrationName::new(" padded")),
            ("name", Problem::SurroundingWhitespace)
        );
        assert_eq!(
            problem(IntegrationName::new("tab\there")),
            ("name", Problem::InvalidCharacter { index: 3 })
        );
        assert_eq!(
            problem(IntegrationName::new("semi;colon")),
            ("name", Problem::InvalidCharacter { index: 4 })
        );
    }

    #[test]
    fn descriptions() {
        assert!(Description::new("line one\nline two\tend").is_ok());
        assert_eq!(
            problem(Description::new("bell\u{7}")),
            ("description", Problem::InvalidCharacter { index: 4 })
        );
        assert_eq!(
            problem(Description::new("d".repeat(1025))),
            ("description", Problem::TooLong { max: 1024 })
        );
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            BaseUrl::parse("https://gitlab.example.com/")
                .unwrap()
                .as_str(),
            "https://gitlab.example.com"
        );
        assert_eq!(
            BaseUrl::parse("http://127.0.0.1:8080/gitlab//")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8080/gitlab"
        );
        let b = BaseUrl::parse("https://h.example/gitlab").unwrap();
        assert_eq!(
            b.join("/api/v4/user"),
            "https://h.example/gitlab/api/v4/user"
        );
        assert_eq!(b.host(), "h.example");
        let cases = [
            ("", Problem::Empty),
            ("ftp://h.example", Problem::UnsupportedScheme),
            ("https://u:p@h.example", Problem::UserInfoNotAllowed),
            ("https://u@h.example", Problem::UserInfoNotAllowed),
            ("https://h.example/?a=1", Problem::QueryNotAllowed),
            ("https://h.example/#x", Problem::FragmentNotAllowed),
            (
                "gitlab.example.com",
                Problem::InvalidUrl(url::ParseError::RelativeUrlWithoutBase),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                problem(BaseUrl::parse(input)),
                ("base_url", want),
                "{input}"
            );
        }
        assert_eq!(
            problem(BaseUrl::parse(&format!(
                "https://h.example/{}",
                "a".repeat(2100)
            ))),
            ("base_url", Problem::TooLarge { max_bytes: 2048 })
        );
        assert!(serde_json::from_str::<BaseUrl>("\"ftp://x\"").is_err());
    }

    #[test]
    fn the_base_url_limit_holds_for_the_normalized_url() {
        // "é" is 2 bytes in, 6 bytes ("%C3%A9") once normalized.
        let grows = format!("https://gitlab.example.com/{}", "é".repeat(900));
        assert!(grows.len() < BaseUrl::MAX_LEN, "{} bytes in", grows.len());
        assert_eq!(
            problem(BaseUrl::parse(&grows)),
            ("base_url", Problem::TooLarge { max_bytes: 2048 })
        );
        // The largest accepted URL is exactly the limit once normalized, and stays the same
        // when parsed again (which is what a store does on read).
        let prefix = "https://gitlab.example.com/";
        let fits = format!(
            "{prefix}{}",
            "é".repeat((BaseUrl::MAX_LEN - prefix.len()) / 6)
        );
        let url = BaseUrl::parse(&fits).unwrap();
        assert!(url.as_str().len() <= BaseUrl::MAX_LEN);
        assert_eq!(BaseUrl::parse(url.as_str()).unwrap(), url);
        // An input that normalizing shrinks below the limit is accepted.
        let shrinks = format!(
            "https://h.example:443/{}{}",
            "a".repeat(2000),
            "/".repeat(30)
        );
        assert!(shrinks.len() > BaseUrl::MAX_LEN);
        assert_eq!(
            BaseUrl::parse(&shrinks).unwrap().as_str().len(),
            "https://h.example/".len() + 2000
        );
    }

    /// `{"a": {"a": … 1}}` with `levels` levels in all (the outer object is level 1).
    fn nested(levels: usize) -> serde_json::Value {
        let mut v = json!(1);
        for _ in 1..levels {
            v = json!({ "a": v });
        }
        v
    }

    #[test]
    fn configuration_depth_is_limited_to_what_every_reader_accepts() {
        let deepest = nested(Configuration::MAX_DEPTH);
        let ok = Configuration::new(deepest).unwrap();
        let text = serde_json::to_string(&ok).unwrap();
        assert_eq!(Configuration::from_json(&text).unwrap(), ok);
        assert_eq!(
            problem(Configuration::new(nested(Configuration::MAX_DEPTH + 1))),
            ("configuration", Problem::TooDeep { max: 32 })
        );
        // Arrays count as levels too; empty containers at the last level are fine.
        let mut arrays = json!([]);
        for _ in 2..Configuration::MAX_DEPTH {
            arrays = json!([arrays]);
        }
        assert!(Configuration::new(json!({ "a": arrays.clone() })).is_ok());
        assert_eq!(
            problem(Configuration::new(json!({ "a": [arrays] }))),
            ("configuration", Problem::TooDeep { max: 32 })
        );
        // The 128 levels that serde_json stores but refuses to read back.
        assert_eq!(
            problem(Configuration::new(nested(128))),
            ("configuration", Problem::TooDeep { max: 32 })
        );
        let deep_text = format!("{}1{}", "{\"a\":".repeat(200), "}".repeat(200));
        assert_eq!(
            problem(Configuration::from_json(&deep_text)),
            ("configuration", Problem::TooDeep { max: 32 })
        );
    }

    #[test]
    fn large_whole_floats_are_kept_as_the_integers_they_are() {
        let c = Configuration::new(json!({
            "a": 1e16, "b": [-2.5e17], "c": {"d": 1.2e19}, "e": 1.0, "f": 1.5, "g": 1e300
        }))
        .unwrap();
        assert_eq!(c.get("a"), Some(&json!(10_000_000_000_000_000_u64)));
        assert!(c.get("a").unwrap().is_i64());
        assert_eq!(c.get("b"), Some(&json!([-250_000_000_000_000_000_i64])));
        assert_eq!(
            c.get("c"),
            Some(&json!({"d": 12_000_000_000_000_000_000_u64}))
        );
        // Small whole floats, fractions and numbers beyond 64 bits stay as written.
        assert!(c.get("e").unwrap().is_f64());
        assert!(c.get("f").unwrap().is_f64());
        assert!(c.get("g").unwrap().is_f64());
    }

    #[test]
    fn configuration_refuses_nul_anywhere() {
        for bad in [
            json!({ "k\u{0}": 1 }),
            json!({ "k": "v\u{0}" }),
            json!({ "k": [{ "x\u{0}y": true }] }),
            json!({ "k": { "l": ["\u{0}"] } }),
        ] {
            assert_eq!(
                problem(Configuration::new(bad.clone())),
                ("configuration", Problem::NulCharacter),
                "{bad}"
            );
        }
    }

    #[test]
    fn configurations() {
        assert!(Configuration::new(json!({"project": 42})).is_ok());
        assert_eq!(
            problem(Configuration::new(json!([1, 2]))),
            ("configuration", Problem::NotAnObject)
        );
        let big = json!({ "blob": "x".repeat(64 * 1024) });
        assert_eq!(
            problem(Configuration::new(big)),
            ("configuration", Problem::TooLarge { max_bytes: 65536 })
        );
        assert_eq!(
            problem(Configuration::from_json("{not json")),
            ("configuration", Problem::NotAnObject)
        );
        assert!(serde_json::from_str::<Configuration>("\"text\"").is_err());
    }

    #[test]
    fn tags_are_trimmed_deduplicated_and_sorted() {
        let t = Tags::new([" team:b ", "env", "team:b", "alpha"]).unwrap();
        assert_eq!(t.as_slice(), ["alpha", "env", "team:b"]);
        assert!(t.contains("env") && !t.contains("beta"));
        assert_eq!(problem(Tags::new(["  "])), ("tags", Problem::Empty));
        assert_eq!(
            problem(Tags::new(["two words"])),
            ("tags", Problem::InvalidCharacter { index: 3 })
        );
        let many: Vec<String> = (0..33).map(|i| format!("t{i}")).collect();
        assert_eq!(
            problem(Tags::new(many)),
            ("tags", Problem::TooMany { max: 32 })
        );
        assert_eq!(
            problem(Tags::new(["t".repeat(65)])),
            ("tags", Problem::TooLong { max: 64 })
        );
    }

    #[test]
    fn environments() {
        assert_eq!(
            "staging".parse::<Environment>().unwrap(),
            Environment::Staging
        );
        assert_eq!(
            "eu-west-2".parse::<Environment>().unwrap(),
            Environment::Custom("eu-west-2".into())
        );
        assert_eq!(
            problem("Prod".parse::<Environment>()),
            ("environment", Problem::InvalidCharacter { index: 0 })
        );
        assert_eq!(
            serde_json::to_string(&Environment::Production).unwrap(),
            "\"production\""
        );
    }
}
