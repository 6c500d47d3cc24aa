//! What the terminal shows when the wizard ends (its screen is gone by then): what came
//! back, what is still missing and where it still is, what is still frozen and how to thaw
//! it, what was kept, and where the report is. The runtime checks that each frozen process
//! still exists with the same start time and is still stopped before it asks for this, so
//! every line is true when printed.

use super::model::Model;

/// The lines, without the `snaprescue: ` prefix.
pub fn exit_summary(model: &Model) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(r) = &model.restore.report {
        let files = r
            .restored
            .iter()
            .filter(|x| x.kind == crate::engine::diff::EntryKind::File)
            .count();
        out.push(format!(
            "restored {files} file(s), {}, into {}{}",
            humansize::format_size(r.bytes, humansize::BINARY),
            crate::engine::shown(&model.path),
            if r.cancelled { " (then cancelled)" } else { "" }
        ));
        if !r.failed.is_empty() {
            out.push(format!("{} failed (listed in the report)", r.failed.len()));
        }
    }
    if let Some(Ok(o)) = &model.recovery.outcome {
        out.push(format!(
            "rolled back {} to snapshot {}; to undo: {}",
            crate::engine::shown(&o.replaced),
            o.snapshot,
            o.undo
        ));
    }
    let missing = super::missing::still_missing(model);
    if !missing.is_empty() {
        out.push(format!("still missing: {}", missing.len()));
        for m in missing.iter().take(10) {
            out.push(format!(
                "  {} — {}",
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
        m.restore.report = Some(RestoreReport {
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
        });
        m.finish.report_file = Some(Ok("/state/reports/r.json".into()));
        let lines = exit_summary(&m);
        assert!(
            lines[0].starts_with("restored 1 file(s), 10 B, into /data/run"),
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
