//! Salesforce id normalisation against the reference vectors in
//! ../shared/fixtures/salesforce/id-15-to-18-vectors.txt (real ids from real payloads).

use std::path::PathBuf;

use sf2hs_shared::domain::SalesforceId;

#[test]
fn every_reference_vector_normalises() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/salesforce/id-15-to-18-vectors.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut checked = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (short, long) = line
            .split_once("->")
            .unwrap_or_else(|| panic!("bad vector line `{line}`"));
        let (short, long) = (short.trim(), long.trim());
        let from_15 = SalesforceId::parse(short).unwrap();
        assert_eq!(from_15.as_str(), long, "{short}");
        let from_18 = SalesforceId::parse(long).unwrap();
        assert_eq!(from_18, from_15, "{long}");
        assert_eq!(from_18.short(), short);
        // A case-changed checksum is still the same record; a case-changed body is not.
        let lower_suffix = format!("{}{}", &long[..15], long[15..].to_ascii_lowercase());
        assert_eq!(SalesforceId::parse(&lower_suffix).unwrap(), from_15);
        checked += 1;
    }
    assert_eq!(checked, 13, "all vectors read");
}
