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
    out!("fix the cause, then `sf2hs dlq replay` (all) or `sf2hs dlq replay MESSAGE…`");
    Ok(ExitCode::SUCCESS)
}

pub async fn replay(
    backend: &Backend,
    message_ids: &[String],
    json: bool,
) -> Result<ExitCode, CliError> {
    // A message id is in one dead-letter queue; asking the others for it moves nothing.
    let mut moved = 0;
    for named in &backend.queues {
        moved += named.queue.replay(message_ids).await?;
    }
    if json {
        output::print_json(&json!({ "replayed": moved }));
    } else {
        out!("{moved} dead letters put back on the queue");
    }
    // Asking for ids that are not there is worth an exit code: a script may rely on them.
    if !message_ids.is_empty() && moved < message_ids.len() as u64 {
        eprintln!(
            "{} of the message ids given are not in the dead-letter queue (`sf2hs dlq list` shows the ids)",
            message_ids.len() as u64 - moved
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
