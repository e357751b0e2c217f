//! What this process received: SQS cannot read a message by receipt, so `dead_letter` needs the
//! body kept from the receive; it tells a superseded receipt from the latest one; and it knows
//! which messages this process holds in flight, so that a second delivery of one of them while
//! the first is still in flight is not handed to another task of the same process.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The longest a receipt can matter: SQS's maximum visibility timeout (12 hours).
const KEEP: Duration = Duration::from_secs(12 * 60 * 60);

/// Above this many entries, a receive drops those older than [`KEEP`].
const PRUNE_ABOVE: usize = 1_000;

#[derive(Debug, Clone)]
pub(super) struct Held {
    pub(super) message_id: String,
    pub(super) body: String,
    pub(super) receive_count: u32,
    taken_at: Instant,
    /// Before this instant, SQS keeps the message invisible: counted from just before the
    /// request was sent, so never later than SQS's own deadline.
    hidden_until: Instant,
}

pub(super) enum Lookup<'a> {
    /// Not received by this process (another worker, or garbage): SQS decides.
    Unknown,
    /// This process has received the message again since: the receipt is stale.
    Superseded,
    Current(&'a Held),
}

#[derive(Debug, Default)]
pub(super) struct Ledger {
    by_receipt: HashMap<String, Held>,
    /// Message id → its latest receipt.
    latest: HashMap<String, String>,
}

impl Ledger {
    /// Whether this process holds `message_id` in flight (received, not deleted, released or
    /// timed out).
    pub(super) fn holds(&self, message_id: &str) -> bool {
        self.latest
            .get(message_id)
            .and_then(|receipt| self.by_receipt.get(receipt))
            .is_some_and(|held| held.hidden_until > Instant::now())
    }

    pub(super) fn record(
        &mut self,
        receipt: &str,
        message_id: &str,
        body: &str,
        receive_count: u32,
        hidden_until: Instant,
    ) {
        if self.by_receipt.len() > PRUNE_ABOVE {
            self.by_receipt
                .retain(|_, held| held.taken_at.elapsed() < KEEP);
            let by_receipt = &self.by_receipt;
            self.latest
                .retain(|_, receipt| by_receipt.contains_key(receipt));
        }
        self.by_receipt.insert(
            receipt.to_owned(),
            Held {
                message_id: message_id.to_owned(),
                body: body.to_owned(),
                receive_count,
                taken_at: Instant::now(),
                hidden_until,
            },
        );
        self.latest
            .insert(message_id.to_owned(), receipt.to_owned());
    }

    pub(super) fn lookup(&self, receipt: &str) -> Lookup<'_> {
        match self.by_receipt.get(receipt) {
            None => Lookup::Unknown,
            Some(held)
                if self.latest.get(&held.message_id).map(String::as_str) != Some(receipt) =>
            {
                Lookup::Superseded
            }
            Some(held) => Lookup::Current(held),
        }
    }

    /// The message was made visible again at `visible_at`.
    pub(super) fn released(&mut self, receipt: &str, visible_at: Instant) {
        if let Some(held) = self.by_receipt.get_mut(receipt) {
            held.hidden_until = visible_at;
        }
    }

    /// The message is gone (deleted or dead-lettered): forget every receipt of it.
    pub(super) fn forget(&mut self, receipt: &str) {
        if let Some(held) = self.by_receipt.remove(receipt) {
            self.latest.remove(&held.message_id);
            self.by_receipt
                .retain(|_, other| other.message_id != held.message_id);
        }
    }
}
