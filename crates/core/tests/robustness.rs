//! Parsers of outside input never panic, whatever they are given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use assetwarden_core::checks::catalog;
use assetwarden_core::policy::EXAMPLE_POLICY;
use assetwarden_core::source::{InventoryBytes, SourceEvent};
use assetwarden_core::{Arn, Engine, Policy};
use proptest::prelude::*;

const GOOD_LINE: &str = r#"{"resourceType":"AWS::S3::Bucket","arn":"arn:aws:s3:::b","accountId":"123456789012","awsRegion":"eu-west-1","configuration":"{\"name\":\"b\"}","supplementaryConfiguration":{"PublicAccessBlockConfiguration":"{\"blockPublicAcls\":true}"},"tags":{"Owner":"x"}}"#;

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn inventory_reader_survives_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let evs: Vec<SourceEvent> = InventoryBytes::new("fuzz", bytes).events().collect();
        let engine = Engine::builder().build().unwrap();
        for e in evs {
            if let SourceEvent::Resource(r) = e {
                let _ = engine.evaluate(&r);
            }
        }
    }

    #[test]
    fn inventory_reader_survives_damaged_records(cut in 0usize..GOOD_LINE.len(), junk in "[\\[\\]{}\",:a-z0-9 \\n\\\\]{0,12}") {
        let mut text = String::from(GOOD_LINE);
        text.insert_str(cut, &junk);
        text.push('\n');
        text.push_str(GOOD_LINE);
        text.push('\n');
        let evs: Vec<SourceEvent> = InventoryBytes::new("fuzz", text.into_bytes()).events().collect();
        // The intact second record is never lost.
        let n = evs.iter().filter(|e| matches!(e, SourceEvent::Resource(_))).count();
        prop_assert!(n >= 1, "{evs:?}");
        for e in &evs {
            if let SourceEvent::Error { location, .. } = e {
                prop_assert!(location.starts_with("fuzz:"), "{location}");
            }
        }
    }

    #[test]
    fn policy_parser_survives_any_text(text in "\\PC{0,300}") {
        let _ = Policy::from_str_named(&text, "fuzz.yaml", &catalog());
    }

    #[test]
    fn damaged_example_policies_give_located_errors(start in 0usize..EXAMPLE_POLICY.len(), len in 1usize..40) {
        let mut text = EXAMPLE_POLICY.to_string();
        let s = (0..=start).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let e = ((s + len).min(text.len())..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        text.replace_range(s..e, "");
        if let Err(err) = Policy::from_str_named(&text, "fuzz.yaml", &catalog()) {
            for d in &err.diagnostics {
                prop_assert!(d.location.is_some() || !d.path.is_empty(), "{d}");
                prop_assert!(!d.message.is_empty());
            }
        }
    }

    #[test]
    fn arn_parser_survives_any_text(text in "(arn:)?\\PC{0,60}") {
        if let Ok(a) = Arn::parse(&text) {
            prop_assert_eq!(a.to_string(), text);
        }
    }
}
