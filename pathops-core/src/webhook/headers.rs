//! [`Headers`]: a case-insensitive, framework-agnostic view of request headers.

/// Request headers, looked up case-insensitively. Build it from whatever your framework gives:
///
/// ```
/// use pathops_core::webhook::Headers;
///
/// let h = Headers::from_pairs([("X-Gitlab-Event", "Push Hook")]);
/// assert_eq!(h.get("x-gitlab-event"), Some("Push Hook"));
/// ```
///
/// `Debug` shows every header's name, and the value only of headers that carry no secret:
/// `X-Gitlab-Token`, `Authorization`, `Cookie` and any name containing `token`, `secret`,
/// `signature` or `auth` are shown as `[REDACTED]`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in &self.entries {
            if is_sensitive(name) {
                map.entry(name, &"[REDACTED]");
            } else {
                map.entry(name, value);
            }
        }
        map.finish()
    }
}

/// Whether a header (lower-case name) may carry a credential or a signature.
fn is_sensitive(name: &str) -> bool {
    name == "cookie"
        || ["token", "secret", "signature", "auth", "proof"]
            .iter()
            .any(|word| name.contains(word))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let h = Headers::from_pairs([
            ("X-Gitlab-Token", "SENTINEL-gl"),
            ("Authorization", "Bearer SENTINEL-auth"),
            ("X-Hub-Signature-256", "sha256=SENTINEL-sig"),
            ("Cookie", "s=SENTINEL-cookie"),
            ("X-Gitlab-Event", "Push Hook"),
        ]);
        let shown = format!("{h:?} {h:#?}");
        assert!(!shown.contains("SENTINEL"), "{shown}");
        assert!(
            shown.contains("Push Hook") && shown.contains("x-gitlab-token"),
            "{shown}"
        );
    }
}
