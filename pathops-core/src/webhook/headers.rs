//! [`Headers`]: a case-insensitive, framework-agnostic view of request headers.

/// Request headers, looked up case-insensitively. Build it from whatever your framework gives:
///
/// ```
/// use pathops_core::webhook::Headers;
///
/// let h = Headers::from_pairs([("X-Gitlab-Event", "Push Hook")]);
/// assert_eq!(h.get("x-gitlab-event"), Some("Push Hook"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// Headers from `(name, value)` pairs. Names are lower-cased; the first value of a
    /// repeated name wins.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Self {
            entries: pairs
                .into_iter()
                .map(|(k, v)| (k.as_ref().to_ascii_lowercase(), v.as_ref().to_owned()))
                .collect(),
        }
    }

    /// The value of `name`, trimmed, if present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The value of `name` exactly as sent (not trimmed, possibly empty), if present. Secrets
    /// compared byte for byte, such as `X-Gitlab-Token`, are read with this.
    pub fn get_raw(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first present header among `names`.
    pub fn first_of(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|n| self.get(n))
    }
}
