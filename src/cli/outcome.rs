//! What a command hands back and how it reaches the terminal: one JSON document with
//! `--json`, else text escaped for the terminal; errors on stderr; the exit status.

use super::usage;

/// What a command produced: a JSON document and its human rendering.
pub struct Outcome {
    pub json: serde_json::Value,
    pub human: String,
    pub ok: bool,
}

pub(super) fn emit(result: anyhow::Result<Outcome>, json: bool) -> i32 {
    let (stdout, status) = match result {
        Ok(outcome) => {
            let text = if json {
                format!(
                    "{}\n",
                    serde_json::to_string_pretty(&outcome.json).unwrap_or_default()
                )
            } else {
                // Every path in it is escaped where it is written; this is the backstop.
                usage::for_terminal(&outcome.human)
            };
            (text, if outcome.ok { 0 } else { 1 })
        }
        Err(e) => {
            let message = usage::error_text(&e);
            usage::write_stderr(&format!("snaprescue: {message}\n"));
            let text = if json {
                format!("{}\n", serde_json::json!({ "error": message }))
            } else {
                String::new()
            };
            (text, 1)
        }
    };
    match usage::write_stdout(&stdout) {
        // Delivered, or the reader went away (`| head`): the command's own status.
        Ok(_) => status,
        Err(e) => {
            usage::write_stderr(&format!("snaprescue: cannot write the output: {e}\n"));
            1
        }
    }
}

/// Exit status 2 with `message`.
pub(super) fn bad_usage(message: &str) -> i32 {
    usage::write_stderr(&format!("snaprescue: {message}\n"));
    2
}
