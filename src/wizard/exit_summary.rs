//! What the terminal shows when the wizard ends (its screen is gone by then): what came
//! back, what is still missing and where it still is, what is still frozen and how to thaw
//! it, what was kept, what is still pinned and how to unpin it, and where the report is. The runtime checks that each frozen process
//! still exists with the same start time and is still stopped before it asks for this, so
//! every line is true when printed.

use super::model::Model;

/// The lines, without the `snaprescue: ` prefix.
pub fn exit_summary(model: &Model) -> Vec<String> {
    // Everything this run did, in order (the restore shown last may not be the only one).
    let mut out: Vec<String> = model.finish.actions.clone();
    let (entries, bytes) = model.finish.restored_total;
    if entries > 0 {
        out.push(format!(
            "in all: {entries} {} restored, {}, into {}",
            if entries == 1 { "entry" } else { "entries" },
            humansize::format_size(bytes, humansize::BINARY),
            crate::engine::shown(model.restore_to.as_ref().unwrap_or(&model.path))
        ));
    }
    let missing = super::missing::still_missing(model);
    if !missing.is_empty() {
        out.push(format!("still missing: {}", missing.len()));
        for m in missing.iter().take(10) {
            // The wizard's keys mean nothing at the shell: the command that does it.
            let fix = m
                .at_shell
                .as_deref()
                .map(|f| format!("; {f}"))
                .unwrap_or_default();
            out.push(format!(
                "  {} — {}{fix}",
                crate::engine::shown(&m.path),
                m.where_
            ));
        }
        if missing.len() > 10 {
            out.push(format!(
                "  and {} more (see the report)",
                missing.len() - 10
            ));
        }
    }
    if let Some(note) = super::update_writers::left_frozen(model) {
        out.push(note);
    }
    for kept in super::update_finish::created(model) {
        out.push(format!("kept: {kept}"));
    }
    out.extend(model.snapshots.pins.exit_lines());
    if let Some(Ok(report)) = &model.finish.report_file {
        out.push(format!("report: {}", crate::engine::shown(report)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::restore::{RestoreReport, RestoredItem};

    #[test]
    fn says_what_came_back_what_is_missing_and_where_the_report_is() {
        let mut m = Model::new("/data/run".into());
        m.snapshots.chosen = Some("259".into());
        let report = RestoreReport {
            restored: vec![RestoredItem {
                path: "a.pth".into(),
                target: "/data/run/a.pth".into(),
                kind: crate::engine::diff::EntryKind::File,
                size: 10,
                method: None,
                hash: None,
                verified_by: None,
            }],
            bytes: 10,
            ..Default::default()
        };
        crate::wizard::update(
            &mut m,
            crate::wizard::Msg::RestoreDone {
                report,
                elapsed_ms: 1,
            },
        );
        // Rescue opened again: the run's restores are still told.
        m.restore = Default::default();
        m.finish.report_file = Some(Ok("/state/reports/r.json".into()));
        let lines = exit_summary(&m);
        assert!(
            lines[0].starts_with("restore from snapshot 259: 1 restored"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("in all: 1 entry restored, 10 B, into /data/run"),
            "{lines:?}"
        );
        assert_eq!(lines.last().unwrap(), "report: /state/reports/r.json");
        m.writers.frozen.push((4242, 1, "python train.py".into()));
        let lines = exit_summary(&m);
        assert!(
            lines.iter().any(|l| l.contains("kill -CONT 4242")),
            "{lines:?}"
        );
    }
}
