//! The wizard's pin effects: the snapshot picked in step 3 is pinned through the session
//! (journaled, as `snaprescue pin` does), and the finish screen's unpin takes it back; each
//! answer goes back to `update` as a message.

use super::executor::Executor;
use crate::pinning::PinnedBy;
use crate::wizard::Msg;

impl Executor {
    pub(super) fn pin(&self, id: String, days: u32) {
        let asked = id.clone();
        self.with_session(
            move |s| Msg::Pinned {
                result: s
                    .pin(&id, days, PinnedBy::Wizard)
                    .map_err(|e| e.to_string()),
                id,
            },
            |e| Msg::Pinned {
                id: asked,
                result: Err(e),
            },
        );
    }

    pub(super) fn unpin(&self, id: String) {
        let asked = id.clone();
        self.with_session(
            move |s| Msg::Unpinned {
                result: s.unpin(&id).map_err(|e| e.to_string()),
                id,
            },
            |e| Msg::Unpinned {
                id: asked,
                result: Err(e),
            },
        );
    }
}
