//! CBS automatic snapshot policies as the audit reads them (`AutoSnapshotPolicySet` items of
//! DescribeDiskAssociatedAutoSnapshotPolicy and DescribeAutoSnapshotPolicies): how often
//! `Policy[]` takes a snapshot (hours on weekdays, 0 = Sunday; every `IntervalDays`; days of
//! the month), how long they are kept (`IsPermanent`, `RetentionDays`), whether it runs
//! (`IsActivated`, `AutoSnapshotPolicyState`), and whether it copies (`IsCopyToRemote`).
//! No I/O: `policies` makes the calls.

use crate::protect::{Keep, Policy};
use chrono::Duration;
use serde_json::Value;

/// A CBS number list (`[0, 12]`; numbers given as strings are read too).
fn numbers(v: &Value) -> Vec<u32> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_u64().or_else(|| x.as_str()?.trim().parse().ok()))
                .filter_map(|x| u32::try_from(x).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn number(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.trim().parse().ok())
}

pub(super) fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or_default()
}

/// The longest time between two of `points` (hours from the start of a cycle of `cycle`
/// hours), the cycle repeating.
fn cyclic_gap(mut points: Vec<u32>, cycle: u32) -> Option<Duration> {
    points.retain(|p| *p < cycle);
    points.sort_unstable();
    points.dedup();
    let (first, last) = (*points.first()?, *points.last()?);
    let gaps = points.windows(2).map(|w| w[1] - w[0]);
    let longest = gaps.chain([cycle - last + first]).max()?;
    Some(Duration::hours(longest.into()))
}

/// How often the entries of a policy's `Policy[]` take a snapshot. The entries on weekdays
/// (`DayOfWeek`, 0 = Sunday) are taken together over a week; an entry every `IntervalDays`
/// days, or on days of the month (counted over 31 days: a shorter month skips the days past
/// its end, so its gap may be longer), on its own. The shortest of these: the policy runs at
/// least that often.
pub fn period(entries: &[Value]) -> Option<Duration> {
    let mut weekly = Vec::new();
    let mut others = Vec::new();
    for entry in entries {
        let hours: Vec<u32> = numbers(&entry["Hour"])
            .into_iter()
            .filter(|h| *h < 24)
            .collect();
        let on = |days: Vec<u32>, first: u32, last: u32| -> Vec<u32> {
            days.into_iter()
                .filter(|d| (first..=last).contains(d))
                .flat_map(|d| hours.iter().map(move |h| (d - first) * 24 + h))
                .collect()
        };
        let weekdays = numbers(&entry["DayOfWeek"]);
        if !weekdays.is_empty() {
            weekly.extend(on(weekdays, 0, 6));
        } else if let Some(n) = number(&entry["IntervalDays"]).filter(|n| (1..=365).contains(n)) {
            others.push(cyclic_gap(hours.clone(), n as u32 * 24));
        } else {
            others.push(cyclic_gap(
                on(numbers(&entry["DayOfMonth"]), 1, 31),
                31 * 24,
            ));
        }
    }
    others.push(cyclic_gap(weekly, 7 * 24));
    others.into_iter().flatten().min()
}

/// How long a policy keeps its snapshots: forever when `IsPermanent`, else `RetentionDays`
/// (a `RetentionMonths` counted as 28 days each; `RetentionAmount`: the newest that many).
fn keep(p: &Value) -> Keep {
    let positive = |field: &str| number(&p[field]).filter(|n| *n > 0);
    if p["IsPermanent"].as_bool().unwrap_or(false) {
        Keep::Forever
    } else if let Some(days) = positive("RetentionDays") {
        Keep::For(Duration::days(days))
    } else if let Some(months) = positive("RetentionMonths") {
        Keep::For(Duration::days(months * 28))
    } else if let Some(n) = positive("RetentionAmount").and_then(|n| u32::try_from(n).ok()) {
        Keep::Newest(n)
    } else {
        Keep::For(Duration::zero())
    }
}

/// One policy of `AutoSnapshotPolicySet` as the audit sees it.
pub fn policy_from(p: &Value) -> Policy {
    let state = p["AutoSnapshotPolicyState"].as_str().unwrap_or("NORMAL");
    let entries = p["Policy"].as_array().cloned().unwrap_or_default();
    Policy {
        name: format!(
            "auto snapshot policy {} ({})",
            text(p, "AutoSnapshotPolicyId"),
            text(p, "AutoSnapshotPolicyName")
        ),
        every: period(&entries),
        keep: keep(p),
        disabled: if !p["IsActivated"].as_bool().unwrap_or(true) {
            Some("it is not activated (IsActivated false)".into())
        } else if state != "NORMAL" {
            Some(format!("its state is {state}"))
        } else {
            None
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn weekly(hours: &[u32], days: &[u32]) -> Value {
        json!([{"Hour": hours, "DayOfWeek": days}])
    }

    fn entries(v: Value) -> Vec<Value> {
        v.as_array().unwrap().clone()
    }

    #[test]
    fn the_longest_gap_of_a_week_from_sunday_is_the_period() {
        let all = [0, 1, 2, 3, 4, 5, 6];
        assert_eq!(
            period(&entries(weekly(&[0, 12], &all))),
            Some(Duration::hours(12))
        );
        assert_eq!(
            period(&entries(weekly(&[2], &all))),
            Some(Duration::hours(24))
        );
        // Sunday and Wednesday at 02:00: Wednesday → Sunday is 4 days.
        assert_eq!(
            period(&entries(weekly(&[2], &[0, 3]))),
            Some(Duration::hours(96))
        );
        // Saturday 23:00 and Sunday 01:00 (two entries, one week): 2 h apart across the
        // week's end, 166 h the other way round.
        let ends = json!([{"Hour": [23], "DayOfWeek": [6]}, {"Hour": [1], "DayOfWeek": [0]}]);
        assert_eq!(period(&entries(ends)), Some(Duration::hours(166)));
        assert_eq!(period(&entries(weekly(&[], &all))), None);
        assert_eq!(
            period(&entries(weekly(&[1], &[7, 9]))),
            None,
            "no such weekday"
        );
        assert_eq!(period(&[]), None);
    }

    #[test]
    fn intervals_and_days_of_the_month_have_their_own_cycles() {
        let every_two_days = json!([{"Hour": [3], "IntervalDays": 2}]);
        assert_eq!(period(&entries(every_two_days)), Some(Duration::hours(48)));
        let monthly = json!([{"Hour": [0], "DayOfMonth": [1, 16]}]);
        assert_eq!(period(&entries(monthly)), Some(Duration::days(16)));
        let both = json!([{"Hour": [0], "DayOfMonth": [1]}, {"Hour": [0, 12], "DayOfWeek": [0, 1, 2, 3, 4, 5, 6]}]);
        assert_eq!(period(&entries(both)), Some(Duration::hours(12)));
    }

    #[test]
    fn a_policy_reads_its_retention_and_what_switches_it_off() {
        let p = json!({"AutoSnapshotPolicyId": "asp-1", "AutoSnapshotPolicyName": "n",
            "AutoSnapshotPolicyState": "NORMAL", "IsActivated": true, "IsPermanent": false,
            "RetentionDays": 3, "Policy": [{"Hour": [0, 12], "DayOfWeek": [0, 1, 2, 3, 4, 5, 6]}]});
        let policy = policy_from(&p);
        assert_eq!(policy.name, "auto snapshot policy asp-1 (n)");
        assert_eq!(policy.every, Some(Duration::hours(12)));
        assert_eq!(policy.keep, Keep::For(Duration::days(3)));
        assert_eq!(policy.disabled, None);
        let schedule = crate::protect::Schedule::recommended(crate::protect::DiskRole::Data);
        assert!(policy.meets(&schedule));

        let mut off = p.clone();
        off["IsActivated"] = json!(false);
        assert!(
            policy_from(&off)
                .disabled
                .unwrap()
                .contains("not activated")
        );
        let mut isolated = p.clone();
        isolated["AutoSnapshotPolicyState"] = json!("ISOLATED");
        assert!(
            policy_from(&isolated)
                .disabled
                .unwrap()
                .contains("ISOLATED")
        );
        let mut forever = p.clone();
        forever["IsPermanent"] = json!(true);
        assert_eq!(policy_from(&forever).keep, Keep::Forever);
        let mut newest = p;
        newest["RetentionDays"] = json!(0);
        newest["RetentionAmount"] = json!(5);
        assert_eq!(policy_from(&newest).keep, Keep::Newest(5));
    }
}
