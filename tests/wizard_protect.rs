//! Step 6's prevention as effects: the finish screen asks for the audit once, shows the
//! failing checks first, offers `p` (the recommended policy) only while the policy fails
//! and `s` (a pre-run snapshot) once the audit is in, each behind a question naming the
//! disk; a "no" changes nothing, a "yes" is one effect, and its answer asks for the audit
//! again.

mod common;

use common::screen_models::{model, render, unprotected_audit};
use common::wizard::keys;
use snaprescue::engine::restore::RestoreReport;
use snaprescue::protect::{PolicyApplied, TakenSnapshot};
use snaprescue::sources::SnapshotStatus;
use snaprescue::wizard::*;

fn finished() -> Model {
    let mut m = model();
    m.step = Step::Restore;
    let effects = update(
        &mut m,
        Msg::RestoreDone {
            report: RestoreReport::default(),
            elapsed_ms: 1,
        },
    );
    assert_eq!(
        effects
            .iter()
            .filter(|e| **e == Effect::AuditProtection)
            .count(),
        1,
        "{effects:?}"
    );
    assert_eq!(m.step, Step::Finish);
    m
}

#[test]
fn the_audit_is_asked_once_and_shown_failing_checks_first() {
    let mut m = finished();
    assert!(render(&m).contains("Checking this disk's protection"));
    // A second action's finish does not ask again while one is in.
    let again = update(
        &mut m,
        Msg::RestoreDone {
            report: RestoreReport::default(),
            elapsed_ms: 1,
        },
    );
    assert!(!again.contains(&Effect::AuditProtection), "{again:?}");
    update(&mut m, Msg::Audited(Ok(vec![unprotected_audit()])));
    let lines: Vec<String> = m
        .finish
        .protection
        .lines()
        .into_iter()
        .map(|(text, _)| text)
        .collect();
    assert!(
        lines[0].contains(": 2 failing, 2 to improve, 1 ok"),
        "{lines:?}"
    );
    let policy = lines
        .iter()
        .position(|l| l.contains("auto-policy"))
        .unwrap();
    let pre_run = lines
        .iter()
        .position(|l| l.contains("pre-run-snapshot"))
        .unwrap();
    assert!(policy < pre_run, "failing first: {lines:?}");
    assert!(
        !lines.iter().any(|l| l.contains("data-on-system-disk")),
        "what is ok is left to `protect`: {lines:?}"
    );
    let footer = keymap::footer(&m);
    assert!(
        footer.contains("p:protect") && footer.contains("s:pre-run snapshot"),
        "{footer}"
    );
}

#[test]
fn p_asks_naming_the_disk_and_only_yes_applies_then_the_audit_is_asked_again() {
    let mut m = finished();
    update(&mut m, Msg::Audited(Ok(vec![unprotected_audit()])));
    assert!(keys(&mut m, &[Key::Char('p')]).is_empty());
    let screen = render(&m);
    let question = m.finish.protection.question().unwrap();
    assert!(
        question.contains("policy (every 12 h, kept 3 d) for btrfs subvolume data"),
        "{question}"
    );
    assert!(
        screen.contains("Before the next run") && screen.contains("Create and bind an automatic"),
        "a popup: {screen}"
    );
    // Any other key answers no: nothing happens, the question goes.
    assert!(keys(&mut m, &[Key::Char('q')]).is_empty());
    assert!(m.finish.protection.asking.is_none());
    assert!(!m.quitting, "q answered the question, it did not quit");
    assert_eq!(
        keys(&mut m, &[Key::Char('p'), Key::Char('y')]),
        vec![Effect::ApplyPolicy]
    );
    assert!(
        !keymap::footer(&m).contains("p:protect"),
        "not twice while it runs"
    );
    let effects = update(
        &mut m,
        Msg::PolicyApplied(Ok((
            "btrfs".into(),
            PolicyApplied {
                changed: true,
                said: vec!["snapper config data written".into()],
            },
        ))),
    );
    assert_eq!(effects, vec![Effect::AuditProtection]);
    assert!(render(&m).contains("btrfs: snapper config data written"));
    assert_eq!(
        m.notice.as_deref(),
        Some("btrfs: snapper config data written")
    );
    assert!(
        m.finish
            .actions
            .iter()
            .any(|a| a.contains("snapper config data"))
    );
}

#[test]
fn s_takes_the_pre_run_snapshot_after_enter_and_a_failure_is_a_warning() {
    let mut m = finished();
    assert!(
        !keymap::footer(&m).contains("s:pre-run"),
        "nothing to snapshot before the audit names the disk"
    );
    update(&mut m, Msg::Audited(Ok(vec![unprotected_audit()])));
    assert_eq!(
        keys(&mut m, &[Key::Char('s'), Key::Enter]),
        vec![Effect::TakePreRunSnapshot]
    );
    let effects = update(
        &mut m,
        Msg::PreRunSnapshot(Ok(TakenSnapshot {
            id: "261".into(),
            source: "btrfs".into(),
            name: "snapper #4: pre-run-20261201-120000".into(),
            tags: Default::default(),
            status: SnapshotStatus::Completed,
            kept: None,
            notes: vec![],
        })),
    );
    assert_eq!(effects, vec![Effect::AuditProtection]);
    assert!(render(&m).contains("Pre-run snapshot snapper #4"));
    keys(&mut m, &[Key::Char('s'), Key::Char('y')]);
    update(
        &mut m,
        Msg::PreRunSnapshot(Err("/data is mounted read-only".into())),
    );
    assert!(render(&m).contains("Pre-run snapshot not taken: /data is mounted read-only"));
}
