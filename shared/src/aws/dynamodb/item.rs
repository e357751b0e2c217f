//! Reading and writing DynamoDB attribute maps: every decoding failure names the item.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use crate::ports::{PortError, PortResult};

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Nanoseconds since the epoch: the exact instant, so that values round-trip.
pub(crate) fn nanos(at: DateTime<Utc>, what: &str) -> PortResult<i64> {
    at.timestamp_nanos_opt().ok_or_else(|| {
        PortError::invalid(format!(
            "{what} {at} cannot be stored: only instants between 1677 and 2262 can"
        ))
    })
}

/// A time as a fixed-width, lexicographically ordered sort-key fragment (20 digits of
/// nanoseconds). Instants before 1970 are refused: nothing sf2hs logs is that old.
pub(crate) fn time_key(at: DateTime<Utc>, what: &str) -> PortResult<String> {
    let value = nanos(at, what)?;
    if value < 0 {
        return Err(PortError::invalid(format!(
            "{what} {at} is before 1970 and cannot be keyed"
        )));
    }
    Ok(format!("{value:020}"))
}

/// Typed reads of one item's attributes; errors are `Corrupt` and name the item by its keys.
pub(crate) struct ItemReader<'a> {
    item: &'a Item,
    what: String,
}

impl<'a> ItemReader<'a> {
    /// `what` says what the item is for a human ("the mapping of Invoice__c"); the item's `PK`
    /// and `SK` are added so that an operator can find it.
    pub(crate) fn new(item: &'a Item, what: &str) -> Self {
        let key = |name: &str| match item.get(name) {
            Some(AttributeValue::S(value)) => value.as_str(),
            _ => "?",
        };
        ItemReader {
            what: format!(
                "{what} (item {}={} {}={})",
                super::PARTITION_KEY,
                key(super::PARTITION_KEY),
                super::SORT_KEY,
                key(super::SORT_KEY)
            ),
            item,
        }
    }

    pub(crate) fn corrupt(&self, reason: impl Into<String>) -> PortError {
        PortError::Corrupt {
            what: self.what.clone(),
            reason: reason.into(),
        }
    }

    pub(crate) fn opt_string(&self, name: &str) -> PortResult<Option<String>> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
            Some(other) => {
                Err(self.corrupt(format!("attribute {name} is not a string: {other:?}")))
            }
        }
    }

    pub(crate) fn string(&self, name: &str) -> PortResult<String> {
        self.opt_string(name)?
            .ok_or_else(|| self.corrupt(format!("attribute {name} is missing")))
    }

    pub(crate) fn opt_number<T: std::str::FromStr>(&self, name: &str) -> PortResult<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(value)) => value
                .parse()
                .map(Some)
                .map_err(|e| self.corrupt(format!("attribute {name} = {value}: {e}"))),
            Some(other) => {
                Err(self.corrupt(format!("attribute {name} is not a number: {other:?}")))
            }
        }
    }

    pub(crate) fn number<T: std::str::FromStr>(&self, name: &str) -> PortResult<T>
    where
        T::Err: std::fmt::Display,
    {
        self.opt_number(name)?
            .ok_or_else(|| self.corrupt(format!("attribute {name} is missing")))
    }

    pub(crate) fn boolean(&self, name: &str) -> PortResult<bool> {
        match self.item.get(name) {
            Some(AttributeValue::Bool(value)) => Ok(*value),
            Some(other) => {
                Err(self.corrupt(format!("attribute {name} is not a boolean: {other:?}")))
            }
            None => Err(self.corrupt(format!("attribute {name} is missing"))),
        }
    }

    pub(crate) fn time(&self, name: &str) -> PortResult<DateTime<Utc>> {
        Ok(DateTime::from_timestamp_nanos(self.number::<i64>(name)?))
    }

    pub(crate) fn opt_time(&self, name: &str) -> PortResult<Option<DateTime<Utc>>> {
        Ok(self
            .opt_number::<i64>(name)?
            .map(DateTime::from_timestamp_nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_keys_sort_like_the_times_they_encode() {
        let base = DateTime::from_timestamp(1_788_000_000, 123_000_000).unwrap_or_default();
        let times = [
            DateTime::UNIX_EPOCH,
            base,
            base + chrono::Duration::nanoseconds(1),
            base + chrono::Duration::days(400),
        ];
        let keys: Vec<String> = times
            .iter()
            .map(|t| time_key(*t, "t").expect("key"))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        assert!(keys.iter().all(|k| k.len() == 20));
        let before_1970 = DateTime::UNIX_EPOCH - chrono::Duration::seconds(1);
        assert!(time_key(before_1970, "t").is_err());
    }

    #[test]
    fn undecodable_attributes_are_corrupt_and_name_the_item() {
        let item = Item::from([
            ("PK".to_owned(), s("JOB#42")),
            ("SK".to_owned(), s("JOB")),
            ("enqueued".to_owned(), s("many")),
        ]);
        let reader = ItemReader::new(&item, "import job 42");
        match reader.number::<u64>("enqueued") {
            Err(PortError::Corrupt { what, reason }) => {
                assert!(what.contains("PK=JOB#42"), "{what}");
                assert!(reason.contains("enqueued"), "{reason}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}
