//! Property tests of the AuthRef grammar: valid references round-trip, arbitrary input never
//! panics, nothing that parses contains traversal, whitespace or control characters, and a
//! pinned version is exactly a positive integer without leading zeros.

use pathops_core::AuthRef;
use pathops_core::auth_ref::AuthRefPart;
use proptest::prelude::*;

fn lower_segment() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9._-]{0,30}".prop_filter("not . or ..", |s| s != "." && s != "..")
}

fn mixed_segment() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9._-]{0,30}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn scoped_refs_round_trip(scope in lower_segment(), provider in lower_segment(), key in mixed_segment()) {
        let text = format!("ref://{scope}/{provider}/{key}");
        let parsed = AuthRef::parse(&text).unwrap();
        prop_assert_eq!(parsed.to_string(), text.clone());
        prop_assert_eq!(parsed.scope(), Some(scope.as_str()));
        prop_assert_eq!(parsed.provider(), Some(provider.as_str()));
        prop_assert_eq!(parsed.key(), Some(key.as_str()));
        let reparsed: AuthRef = parsed.to_string().parse().unwrap();
        prop_assert_eq!(reparsed, parsed);
    }

    #[test]
    fn backend_refs_round_trip(
        backend in lower_segment(),
        path in prop::collection::vec(mixed_segment(), 1..6),
        field in prop::option::of(mixed_segment()),
    ) {
        let path = path.join("/");
        let text = match &field {
            Some(f) => format!("authref://{backend}/{path}#{f}"),
            None => format!("authref://{backend}/{path}"),
        };
        let parsed = AuthRef::parse(&text).unwrap();
        prop_assert_eq!(parsed.to_string(), text.clone());
        prop_assert_eq!(parsed.backend(), Some(backend.as_str()));
        prop_assert_eq!(parsed.path(), Some(path.as_str()));
        prop_assert_eq!(parsed.field(), field.as_deref());
        let json = serde_json::to_string(&parsed).unwrap();
        prop_assert_eq!(serde_json::from_str::<AuthRef>(&json).unwrap(), parsed);
    }

    #[test]
    fn pinned_versions_round_trip(
        path in prop::collection::vec(mixed_segment(), 1..6),
        field in mixed_segment(),
        version in 1u64..,
    ) {
        let path = path.join("/");
        let text = format!("authref://vault/{path}#{field}@{version}");
        let parsed = AuthRef::parse(&text).unwrap();
        prop_assert_eq!(parsed.to_string(), text.clone());
        prop_assert_eq!(parsed.path(), Some(path.as_str()));
        prop_assert_eq!(parsed.field(), Some(field.as_str()));
        prop_assert_eq!(parsed.version().map(|v| v.get()), Some(version));
        let json = serde_json::to_string(&parsed).unwrap();
        prop_assert_eq!(serde_json::from_str::<AuthRef>(&json).unwrap(), parsed);
    }

    #[test]
    fn a_version_is_a_positive_integer_without_leading_zeros(suffix in "[0-9a-z@-]{0,24}") {
        let text = format!("authref://vault/kv/x#f@{suffix}");
        let canonical = suffix.parse::<u64>().ok().filter(|v| *v > 0 && v.to_string() == suffix);
        match AuthRef::parse(&text) {
            Ok(parsed) => prop_assert_eq!(parsed.version().map(|v| v.get()), canonical),
            Err(e) => {
                prop_assert!(canonical.is_none(), "{} refused: {}", text, e);
                prop_assert_eq!(e.part, AuthRefPart::Version);
            }
        }
    }

    #[test]
    fn arbitrary_input_never_panics(input in any::<String>()) {
        let _ = AuthRef::parse(&input);
    }

    #[test]
    fn near_miss_input_never_panics(input in "(ref|authref)://[a-zA-Z0-9./#@_ -]{0,40}") {
        if let Ok(parsed) = AuthRef::parse(&input) {
            prop_assert_eq!(parsed.to_string(), input.clone());
            prop_assert!(!input.contains(char::is_whitespace));
            prop_assert!(!input.split(['/', '#', '@']).any(|s| s == ".." || s == "."));
            prop_assert!(input.matches('@').count() <= 1);
        }
    }
}
