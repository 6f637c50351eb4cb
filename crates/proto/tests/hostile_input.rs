//! Every parser of text from the network or a file, fed arbitrary input: it answers (a value or
//! an error), never panics. Bounded inputs keep each case fast.

use proptest::prelude::*;

use mxdoctor_proto::{arc, bounce, dsn, headers, mail, received, spf};

/// Text that looks like mail header material: printable ASCII, separators MTAs use, folding,
/// a few non-ASCII characters.
fn headerish() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ -~\t\r\n();:\\[\\]<>@=é日]{0,400}").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn received_fields(s in headerish()) {
        let hop = received::parse_received(&s);
        prop_assert!(hop.raw.len() <= s.len() + 1);
    }

    #[test]
    fn arc_tag_lists(s in headerish()) {
        let _ = arc::parse_tag_list(&s);
        let _ = arc::field_problems(&s, true);
        let _ = arc::field_problems(&s, false);
    }

    #[test]
    fn spf_records(s in proptest::string::string_regex("v=spf1[ -~]{0,300}").unwrap()) {
        let _ = spf::parse_record(&s);
    }

    #[test]
    fn delivery_status_and_bounce_text(s in headerish(), status in "[0-9.]{0,12}") {
        let _ = dsn::parse_delivery_status(&s);
        let _ = bounce::classify(Some(&status), &s);
        let _ = bounce::status_codes_in(&s);
    }

    #[test]
    fn whole_messages(body in proptest::collection::vec(any::<u8>(), 0..2000), head in headerish()) {
        let mut raw = format!("From: a@example.com\r\n{head}\r\n\r\n").into_bytes();
        raw.extend_from_slice(&body);
        let _ = mail::analyze(&raw);
        let _ = headers::header_facts(&raw);
        let _ = mail::analyze(&body);
        let _ = headers::header_facts(&body);
    }
}
