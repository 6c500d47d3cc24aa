//! What a command hands back and how it reaches the terminal: one JSON document with
//! `--json`, else text escaped for the terminal; errors on stderr; the exit status.

use super::usage;
use std::io::Write;

/// What a command produced: a JSON document and its human rendering. The document is any
/// `Serialize` (a `serde_json::Value` for most commands); it is written straight to stdout,
/// so a listing of 200,000 entries is never held as text or as a tree of values.
pub struct Outcome<J = serde_json::Value> {
    pub json: J,
    pub human: String,
    pub ok: bool,
}

pub(super) fn emit<J: serde::Serialize>(result: anyhow::Result<Outcome<J>>, json: bool) -> i32 {
    let (written, status) = match result {
        Ok(outcome) => {
            let status = if outcome.ok { 0 } else { 1 };
            if json {
                (write_document(&outcome.json), status)
            } else {
                // Every path in it is escaped where it is written; this is the backstop.
                (
                    usage::write_stdout(&usage::for_terminal(&outcome.human)),
                    status,
                )
            }
        }
        Err(e) => {
            let message = usage::error_text(&e);
            usage::write_stderr(&format!("snaprescue: {message}\n"));
            let text = if json {
                format!("{}\n", serde_json::json!({ "error": message }))
            } else {
                String::new()
            };
            (usage::write_stdout(&text), 1)
        }
    };
    match written {
        // Delivered, or the reader went away (`| head`): the command's own status.
        Ok(_) => status,
        Err(e) => {
            usage::write_stderr(&format!("snaprescue: cannot write the output: {e}\n"));
            1
        }
    }
}

/// `doc` pretty-printed and a newline on stdout, buffered; `Ok(false)` when the reader
/// went away (a closed pipe is not an error of the command's).
fn write_document(doc: &impl serde::Serialize) -> std::io::Result<bool> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut out, doc)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e),
    }
}

/// Exit status 2 with `message`.
pub(super) fn bad_usage(message: &str) -> i32 {
    usage::write_stderr(&format!("snaprescue: {message}\n"));
    2
}
