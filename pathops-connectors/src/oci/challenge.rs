//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1): `Basic realm="…"`, `Bearer
//! realm="…",service="…",scope="…"`, several in one header, quoted values holding `:` and `,`.
//!
//! The header comes from the registry, which is not trusted: the parser never panics, bounds
//! what it keeps, and ignores what it cannot read.

use std::fmt;

/// The most challenges, and parameters per challenge, kept from one header.
const MAX_ITEMS: usize = 16;

/// One authentication challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lowercased (`basic`, `bearer`).
    pub scheme: String,
    /// Its parameters in order; names lowercased, values unquoted.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the scheme is `scheme` (case-insensitive).
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }
}

/// Renders the challenge as a header value (parameters quoted).
impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        for (i, (name, value)) in self.params.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { "," })?;
            write!(f, "{name}=\"")?;
            for c in value.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\"")?;
        }
        Ok(())
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        // tchars are ASCII, so the slice is valid UTF-8.
        std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or_default()
    }

    /// A quoted string after its opening quote; an unterminated one runs to the end.
    fn quoted(&mut self) -> String {
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(next) = self.peek() {
                        out.push(next);
                        self.pos += 1;
                    }
                }
                other => out.push(other),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Whether a `name=` parameter starts here (as opposed to the next challenge's scheme).
    fn at_param(&self) -> bool {
        let mut i = self.pos;
        while self.bytes.get(i).copied().is_some_and(is_tchar) {
            i += 1;
        }
        if i == self.pos {
            return false;
        }
        while matches!(self.bytes.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        self.bytes.get(i) == Some(&b'=')
    }
}

/// Every challenge of a `WWW-Authenticate` value, in order. What cannot be parsed is skipped;
/// a token68 credential (`Negotiate abc==`) is kept as a parameter named `token68`.
pub fn parse(header: &str) -> Vec<Challenge> {
    let mut c = Cursor {
        bytes: header.as_bytes(),
        pos: 0,
    };
    let mut challenges = Vec::new();
    while challenges.len() < MAX_ITEMS {
        c.skip_ws_and_commas();
        let Some(first) = c.peek() else { break };
        if !is_tchar(first) {
            // Not a scheme: skip the byte and look again.
            c.pos += 1;
            continue;
        }
        let scheme = c.token().to_ascii_lowercase();
        let mut challenge = Challenge {
            scheme,
            params: Vec::new(),
        };
        c.skip_ws();
        if !c.at_param() && c.peek().is_some_and(|b| is_tchar(b) || b == b'/') {
            // token68: letters, digits, - . _ ~ + / and trailing =.
            let start = c.pos;
            while c
                .peek()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
            {
                c.pos += 1;
            }
            while c.peek() == Some(b'=') {
                c.pos += 1;
            }
            let value = String::from_utf8_lossy(&c.bytes[start..c.pos]).into_owned();
            challenge.params.push(("token68".to_owned(), value));
            challenges.push(challenge);
            continue;
        }
        while c.at_param() {
            let name = c.token().to_ascii_lowercase();
            c.skip_ws();
            c.pos += 1; // '='
            c.skip_ws();
            let value = if c.peek() == Some(b'"') {
                c.pos += 1;
                c.quoted()
            } else {
                c.token().to_owned()
            };
            if challenge.params.len() < MAX_ITEMS {
                challenge.params.push((name, value));
            }
            c.skip_ws();
            if c.peek() == Some(b',') {
                c.skip_ws_and_commas();
            } else {
                break;
            }
        }
        challenges.push(challenge);
    }
    challenges
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_documented_challenges() {
        let bearer = parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push""#,
        );
        assert_eq!(bearer.len(), 1);
        assert!(bearer[0].is("Bearer"));
        assert_eq!(
            bearer[0].param("realm"),
            Some("https://auth.docker.io/token")
        );
        assert_eq!(bearer[0].param("SERVICE"), Some("registry.docker.io"));
        assert_eq!(
            bearer[0].param("scope"),
            Some("repository:samalba/my-app:pull,push")
        );
        let basic = parse(r#"basic realm="pathops-test""#);
        assert_eq!(basic[0].scheme, "basic");
        assert_eq!(basic[0].param("realm"), Some("pathops-test"));
        // Artifact Registry: a Bearer challenge without `service`.
        let gar = parse(r#"Bearer realm="https://us-docker.pkg.dev/v2/token""#);
        assert_eq!(gar[0].param("service"), None);
        // Two challenges in one header, spaces around `=`, an error parameter.
        let two = parse(
            r#"Basic realm = "r1", Bearer realm="https://x/token",error="insufficient_scope",scope="repository:a:pull""#,
        );
        assert_eq!(two.len(), 2, "{two:?}");
        assert_eq!(two[0].param("realm"), Some("r1"));
        assert_eq!(two[1].param("error"), Some("insufficient_scope"));
        let escaped = parse(r#"Bearer realm="a\"b\\c""#);
        assert_eq!(escaped[0].param("realm"), Some(r#"a"b\c"#));
        assert_eq!(
            parse("Negotiate abc+/==")[0].param("token68"),
            Some("abc+/==")
        );
        assert!(parse("").is_empty());
        assert_eq!(
            parse(r#"Bearer realm="unterminated"#)[0].param("realm"),
            Some("unterminated")
        );
    }

    fn challenge() -> impl Strategy<Value = Challenge> {
        (
            "[A-Za-z][A-Za-z0-9]{0,8}",
            proptest::collection::vec(("[a-z][a-z0-9_]{0,8}", "[ -~]{0,40}"), 1..5),
        )
            .prop_map(|(scheme, params)| Challenge {
                scheme: scheme.to_ascii_lowercase(),
                params,
            })
    }

    proptest! {
        #[test]
        fn never_panics_on_any_header(header in "\\PC{0,200}") {
            let parsed = parse(&header);
            prop_assert!(parsed.len() <= MAX_ITEMS);
        }

        #[test]
        fn rendered_challenges_parse_back(challenges in proptest::collection::vec(challenge(), 1..4)) {
            let header = challenges.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            prop_assert_eq!(parse(&header), challenges);
        }
    }
}
