//! DynamoDB's write units for a write, computed as AWS bills them, so that the cost model counts
//! what the code writes rather than what we assume it writes (moto reports no real capacity).
//!
//! From the DynamoDB Developer Guide:
//! - *Item sizes and formats*: an item's size is the sum of its attribute names and values;
//!   strings and binaries by their bytes, a number about 1 byte per two significant digits
//!   plus 1, booleans and nulls 1 byte, lists and maps 3 bytes plus their elements (1 byte
//!   each, plus names).
//! - *Read/write capacity mode*: a write unit is one write of up to 1 KB; a put that replaces
//!   an item costs by the larger of the two.
//! - *Global secondary indexes, provisioned throughput considerations*: "If a write to a table
//!   does not require a global secondary index update, no write capacity is consumed from the
//!   index"; an item entering or leaving an index costs one index write, a changed index key two
//!   (delete and put), changed projected attributes one.

use serde_json::{Map, Value};

/// Which attributes an index copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projected {
    All,
    KeysOnly,
}

/// One global secondary index as far as its write cost goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexShape {
    pub partition_key: &'static str,
    pub sort_key: &'static str,
    pub projected: Projected,
}

/// A table's keys and indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableShape {
    pub partition_key: &'static str,
    pub sort_key: &'static str,
    pub indexes: &'static [IndexShape],
}

/// An item in DynamoDB's JSON wire form (`{"PK": {"S": "…"}, …}`).
pub type WireItem = Map<String, Value>;

/// The item's size in bytes, by AWS's rules.
pub fn item_size(item: &WireItem) -> u64 {
    item.iter()
        .map(|(name, value)| name.len() as u64 + value_size(value))
        .sum()
}

fn value_size(typed: &Value) -> u64 {
    let Some((kind, value)) = typed.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match (kind.as_str(), value) {
        ("S", Value::String(s)) => s.len() as u64,
        // Base64 on the wire: three bytes for every four characters.
        ("B", Value::String(b)) => (b.trim_end_matches('=').len() as u64 * 3) / 4,
        ("N", Value::String(n)) => number_size(n),
        ("BOOL" | "NULL", _) => 1,
        ("SS", Value::Array(items)) => items
            .iter()
            .map(|s| s.as_str().map_or(0, str::len) as u64)
            .sum(),
        ("NS", Value::Array(items)) => items
            .iter()
            .map(|n| n.as_str().map_or(0, number_size))
            .sum(),
        ("L", Value::Array(items)) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<u64>(),
        ("M", Value::Object(map)) => {
            3 + map
                .iter()
                .map(|(name, v)| 1 + name.len() as u64 + value_size(v))
                .sum::<u64>()
        }
        _ => 0,
    }
}

/// About 1 byte per two significant digits, plus 1.
fn number_size(number: &str) -> u64 {
    let digits: String = number
        .split(['e', 'E'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let significant = digits
        .trim_start_matches('0')
        .trim_end_matches('0')
        .len()
        .max(1);
    significant.div_ceil(2) as u64 + 1
}

/// Write units for `bytes`: one per started kilobyte, at least one.
fn units(bytes: u64) -> u64 {
    bytes.div_ceil(1024).max(1)
}

/// What an index holds of `item`: `None` when the item lacks the index's keys.
fn projection(table: &TableShape, index: &IndexShape, item: &WireItem) -> Option<WireItem> {
    if !item.contains_key(index.partition_key) || !item.contains_key(index.sort_key) {
        return None;
    }
    Some(match index.projected {
        Projected::All => item.clone(),
        Projected::KeysOnly => item
            .iter()
            .filter(|(name, _)| {
                [
                    table.partition_key,
                    table.sort_key,
                    index.partition_key,
                    index.sort_key,
                ]
                .contains(&name.as_str())
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
    })
}

/// The write units of writing `new` where `old` was (`None`: no item), table and indexes.
pub fn put_units(table: &TableShape, old: Option<&WireItem>, new: &WireItem) -> u64 {
    let base = units(item_size(new).max(old.map_or(0, item_size)));
    let indexes: u64 = table
        .indexes
        .iter()
        .map(|index| {
            let before = old.and_then(|old| projection(table, index, old));
            let after = projection(table, index, new);
            let keys = |p: &WireItem| {
                (
                    p.get(index.partition_key).cloned(),
                    p.get(index.sort_key).cloned(),
                )
            };
            match (before, after) {
                (None, None) => 0,
                (None, Some(after)) => units(item_size(&after)),
                (Some(before), None) => units(item_size(&before)),
                (Some(before), Some(after)) if keys(&before) != keys(&after) => {
                    units(item_size(&before)) + units(item_size(&after))
                }
                (Some(before), Some(after)) if before != after => units(item_size(&after)),
                _ => 0,
            }
        })
        .sum();
    base + indexes
}

/// A conditional write whose condition failed: the table's units for the larger item, no index.
pub fn refused_units(old: Option<&WireItem>, new: &WireItem) -> u64 {
    units(item_size(new).max(old.map_or(0, item_size)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TABLE: TableShape = TableShape {
        partition_key: "PK",
        sort_key: "SK",
        indexes: &[
            IndexShape {
                partition_key: "G1",
                sort_key: "G1S",
                projected: Projected::All,
            },
            IndexShape {
                partition_key: "G3",
                sort_key: "G3S",
                projected: Projected::KeysOnly,
            },
        ],
    };

    fn item(value: Value) -> WireItem {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn sizes_follow_awss_rules() {
        // "PK" + "abc" = 5; "n" + 123.45 (5 significant digits: 3 + 1) = 5; "b" + true = 2.
        let sized = item(json!({"PK": {"S": "abc"}, "n": {"N": "123.45"}, "b": {"BOOL": true}}));
        assert_eq!(item_size(&sized), 12);
        // A map: 3 + per entry (1 + name + value).
        let map = item(json!({"m": {"M": {"a": {"S": "xy"}}}}));
        assert_eq!(item_size(&map), 1 + 3 + 1 + 1 + 2);
        assert_eq!(number_size("1000"), 2);
        assert_eq!(number_size("0.001"), 2);
    }

    #[test]
    fn a_first_write_pays_each_index_it_enters_and_an_update_only_those_that_change() {
        let first = item(json!({
            "PK": {"S": "R#1"}, "SK": {"S": "R"}, "G3": {"S": "RECORDS#x"}, "G3S": {"S": "1"},
            "hash": {"S": "a"}
        }));
        // The table, and the keys-only index it enters.
        assert_eq!(put_units(&TABLE, None, &first), 2);
        let mut update = first.clone();
        update.insert("hash".into(), json!({"S": "b"}));
        // Keys unchanged, nothing projected changed: the table only.
        assert_eq!(put_units(&TABLE, Some(&first), &update), 1);
        // The same in an index that projects everything costs that index a write.
        let mut grouped = first.clone();
        grouped.insert("G1".into(), json!({"S": "g"}));
        grouped.insert("G1S".into(), json!({"S": "1"}));
        let mut grouped_update = grouped.clone();
        grouped_update.insert("hash".into(), json!({"S": "b"}));
        assert_eq!(put_units(&TABLE, Some(&grouped), &grouped_update), 2);
        // Leaving an index costs its delete; a moved key a delete and a put.
        assert_eq!(put_units(&TABLE, Some(&grouped), &update), 2);
        let mut moved = update.clone();
        moved.insert("G3S".into(), json!({"S": "2"}));
        assert_eq!(put_units(&TABLE, Some(&update), &moved), 3);
    }

    #[test]
    fn big_items_cost_a_unit_per_started_kilobyte() {
        let big = item(json!({"PK": {"S": "x".repeat(2_100)}, "SK": {"S": "1"}}));
        assert_eq!(put_units(&TABLE, None, &big), 3);
        assert_eq!(
            refused_units(Some(&big), &item(json!({"PK": {"S": "y"}}))),
            3
        );
    }
}
