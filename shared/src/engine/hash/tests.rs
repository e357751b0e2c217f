//! Unit tests of the content hash; compiled only under `#[cfg(test)]` (see `hash.rs`).

use super::*;
use crate::domain::SalesforceId;

fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn company(field: &str, target: &str) -> AssociationRef {
    AssociationRef {
        salesforce_field: field.into(),
        target: AssociationTarget::HubSpotObject {
            object: "companies".into(),
            id_property: "salesforceaccountid".into(),
        },
        target_record_id: SalesforceId::parse(target).unwrap(),
        association_type_id: None,
    }
}

#[test]
fn the_hash_of_a_fixed_record_never_changes() {
    // Cross-checked against a Python rendering of the encoding (length-prefixed, big-endian u64).
    // Stored hashes outlive deployments: if this fails, the encoding changed and every record
    // will be rewritten once. Change the literal only on purpose.
    let hash = ContentHash::of(
        &props(&[
            ("amount", "39"),
            ("salesforce_id", "a015f00002J9YYEAA3"),
            ("status", "Open"),
        ]),
        &[company("Account__c", "001ak00000OKNPHAA5")],
        &["Parent_Invoice__c".to_owned()],
    );
    assert_eq!(
        hash.as_str(),
        "8d72f9e86d8da0bcb0a657b567f285fea76583a77ee64fe484e180281170005d"
    );
    assert_eq!(hash.as_str().len(), 64);
    assert_eq!(serde_json::to_string(&hash).unwrap(), format!("\"{hash}\""));
}

#[test]
fn moving_a_separator_between_name_and_value_changes_the_hash() {
    let a = ContentHash::of(&props(&[("a", "b;c")]), &[], &[]);
    let b = ContentHash::of(&props(&[("a;b", "c")]), &[], &[]);
    let c = ContentHash::of(&props(&[("ab", "c")]), &[], &[]);
    let d = ContentHash::of(&props(&[("a", "bc")]), &[], &[]);
    assert_ne!(a, b);
    assert_ne!(c, d);
}

#[test]
fn a_property_an_association_and_a_cleared_lookup_are_told_apart() {
    let as_property = ContentHash::of(&props(&[("Account__c", "")]), &[], &[]);
    let as_cleared = ContentHash::of(&props(&[]), &[], &["Account__c".to_owned()]);
    let empty = ContentHash::of(&props(&[]), &[], &[]);
    assert_ne!(as_property, as_cleared);
    assert_ne!(as_cleared, empty);
}

#[test]
fn association_details_change_the_hash() {
    let base = company("Account__c", "001ak00000OKNPHAA5");
    let hash = |association: AssociationRef| ContentHash::of(&props(&[]), &[association], &[]);
    let mut other_type = base.clone();
    other_type.association_type_id = Some(1);
    let mut other_target = base.clone();
    other_target.target = AssociationTarget::MappedObject {
        salesforce_object: "Account".into(),
    };
    let other_record = company("Account__c", "001ak00000OKNPFAA5");
    let other_field = company("Partner__c", "001ak00000OKNPHAA5");
    let all = [
        hash(base),
        hash(other_type),
        hash(other_target),
        hash(other_record),
        hash(other_field),
    ];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a, b);
        }
    }
}
