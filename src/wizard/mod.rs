//! The wizard as an Elm architecture: a [`Model`], the [`Msg`]s that reach it, and
//! [`update`] which changes the model and returns [`Effect`]s — plain data the runtime
//! carries out. `update` does no I/O, so every step can be tested by comparing effects.

mod earlier_runs;
pub mod exit_summary;
pub mod keymap;
mod keymaps;
mod keys;
mod message;
pub mod missing;
mod model;
pub mod name_index;
pub mod picker;
pub mod pins;
pub mod protection;
mod update;
mod update_finish;
mod update_steps;
pub mod update_writers;

pub use keys::Key;
pub use message::*;
pub use model::*;
pub use update::{init, update};
pub use update_finish::{created, finish_report, job_python, torch_summary};
