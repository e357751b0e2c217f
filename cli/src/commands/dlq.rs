//! `sf2hs dlq …`

use std::process::ExitCode;

use serde_json::json;

use crate::backend::Backend;
use crate::output::{self, CliError};

pub async fn list(backend: &Backend, limit: usize, json: bool) -> Result<ExitCode, CliError> {
    let mut letters = Vec::new();
    for named in &backend.queues {
        letters.extend(named.queue.dead_letters(limit.max(1)).await?);
    }
    letters.sort_by_key(|d| d.dead_lettered_at);
    letters.truncate(limit.max(1));
    if json {
        let items: Vec<_> = letters
            .iter()
            .map(|d| {
                json!({
                    "message_id": d.message_id,
                    "salesforce_object": d.change.object,
                    "record_id": d.change.record_id.as_str(),
                    "reason": d.reason,
                    "receive_count": d.receive_count,
                    "dead_lettered_at": d.dead_lettered_at,
                })
            })
            .collect();
        output::print_json(&json!({ "dead_letters": items }));
        return Ok(ExitCode::SUCCESS);
    }
    if letters.is_empty() {
        out!("the dead-letter queue is empty");
        return Ok(ExitCode::SUCCESS);
    }
    let rows = letters
        .iter()
        .map(|d| {
            vec![
                d.message_id.clone(),
                d.change.object.clone(),
                d.change.record_id.to_string(),
                d.receive_count.to_string(),
                output::time(Some(d.dead_lettered_at)),
                d.reason.clone(),
            ]
        })
        .collect();
    out!(
        "{}",
        output::table(
            &[
                "message",
                "object",
                "record",
                "deliveries",
                "at (UTC)",
                "reason"
            ],
            rows
        )
    );
    out!(
        "fix the cause, then `sf2hs dlq replay` (all; `--object`, `--reason` or MESSAGE… for some)"
    );
    Ok(ExitCode::SUCCESS)
}

/// Which dead letters to replay.
#[derive(Debug, Default)]
pub struct ReplayFilter {
    /// These message ids (none: every dead letter the other filters take).
    pub message_ids: Vec<String>,
    pub object: Option<String>,
    /// A text the reason contains.
    pub reason: Option<String>,
}

impl ReplayFilter {
    fn is_everything(&self) -> bool {
        self.message_ids.is_empty() && self.object.is_none() && self.reason.is_none()
    }

    fn takes(&self, letter: &sf2hs_shared::ports::DeadLetter) -> bool {
        (self.message_ids.is_empty() || self.message_ids.contains(&letter.message_id))
            && self
                .object
                .as_deref()
                .is_none_or(|o| letter.change.object == o)
            && self
                .reason
                .as_deref()
                .is_none_or(|r| letter.reason.contains(r))
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(object) = &self.object {
            parts.push(format!("of {object}"));
        }
        if let Some(reason) = &self.reason {
            parts.push(format!("with `{reason}` in the reason"));
        }
        parts.join(" ")
    }
}

/// How many dead letters one replay may look through to filter them.
const FILTER_SCAN: usize = 100_000;

pub async fn replay(
    backend: &Backend,
    filter: &ReplayFilter,
    yes: bool,
    json: bool,
) -> Result<ExitCode, CliError> {
    // The ids to replay per queue; an empty list replays the whole queue.
    let mut chosen: Vec<(usize, Vec<String>)> = Vec::new();
    let mut count = 0_u64;
    for (index, named) in backend.queues.iter().enumerate() {
        if filter.is_everything() {
            let depth = named.queue.depth().await?;
            count += depth.dead;
            chosen.push((index, Vec::new()));
            continue;
        }
        let ids: Vec<String> = named
            .queue
            .dead_letters(FILTER_SCAN)
            .await?
            .iter()
            .filter(|letter| filter.takes(letter))
            .map(|letter| letter.message_id.clone())
            .collect();
        count += ids.len() as u64;
        if !ids.is_empty() {
            chosen.push((index, ids));
        }
    }
    if count == 0 {
        if json {
            output::print_json(&json!({ "replayed": 0 }));
        } else {
            out!("no dead letter {}to replay", {
                let what = filter.describe();
                if what.is_empty() {
                    String::new()
                } else {
                    format!("{what} ")
                }
            });
        }
        return Ok(if filter.message_ids.is_empty() {
            ExitCode::SUCCESS
        } else {
            eprintln!(
                "none of the message ids given is in the dead-letter queue (`sf2hs dlq list` shows the ids)"
            );
            ExitCode::from(1)
        });
    }
    if !yes {
        eprint!(
            "Replay {count} dead letter(s) {}? They go back on the queue with all their tries. [y/N] ",
            filter.describe()
        );
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing replayed (`--yes` replays without asking)");
            return Ok(ExitCode::from(1));
        }
    }
    let mut moved = 0;
    for (index, ids) in &chosen {
        moved += backend.queues[*index].queue.replay(ids).await?;
    }
    if json {
        output::print_json(&json!({ "replayed": moved }));
    } else {
        out!("{moved} dead letters put back on the queue");
    }
    // Asking for ids that are not there is worth an exit code: a script may rely on them.
    if !filter.message_ids.is_empty() && moved < filter.message_ids.len() as u64 {
        eprintln!(
            "{} of the message ids given are not in the dead-letter queue (`sf2hs dlq list` shows the ids)",
            filter.message_ids.len() as u64 - moved
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
