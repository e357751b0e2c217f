//! `sf2hs dlq …`

use std::process::ExitCode;

use serde_json::json;
use sf2hs_shared::ports::ChangeQueue;

use crate::backend::Backend;
use crate::output::{self, CliError};

pub async fn list(backend: &Backend, limit: usize, json: bool) -> Result<ExitCode, CliError> {
    let letters = backend.queue.dead_letters(limit.max(1)).await?;
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
        println!("the dead-letter queue is empty");
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
    println!(
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
    println!("fix the cause, then `sf2hs dlq replay` (all) or `sf2hs dlq replay MESSAGE…`");
    Ok(ExitCode::SUCCESS)
}

pub async fn replay(
    backend: &Backend,
    message_ids: &[String],
    json: bool,
) -> Result<ExitCode, CliError> {
    let moved = backend.queue.replay(message_ids).await?;
    if json {
        output::print_json(&json!({ "replayed": moved }));
    } else {
        println!("{moved} dead letters put back on the queue");
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
