//! Table columns sized to what they show: every column as wide as its widest cell (or its
//! header, or a minimum), and the last one gets the rest, its cells cut with `…` so a cut is
//! never silent. Shared by the process and snapshot tables.

pub use crate::engine::cut;

/// Widths for `rows` under `header` in `total` columns (one space between columns): each
/// column but the last fits its cells, the last takes what is left (at least 8). The last
/// cell of every row is cut to fit.
pub fn fit<const N: usize>(
    header: [&str; N],
    minimum: [usize; N],
    rows: &mut [[String; N]],
    total: usize,
) -> [u16; N] {
    let mut widths = [0usize; N];
    for col in 0..N.saturating_sub(1) {
        widths[col] = rows
            .iter()
            .map(|r| r[col].chars().count())
            .chain([header[col].chars().count(), minimum[col]])
            .max()
            .unwrap_or(0);
    }
    let fixed: usize = widths.iter().sum::<usize>() + N.saturating_sub(1);
    if let Some(last) = N.checked_sub(1) {
        widths[last] = total.saturating_sub(fixed).max(8);
        for row in rows.iter_mut() {
            row[last] = cut(&row[last], widths[last]);
        }
    }
    widths.map(|w| w as u16)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_last_column_gets_the_rest_and_shows_its_cut() {
        let mut rows = [
            [
                "4242".to_string(),
                "python train.py --epochs 90".to_string(),
            ],
            ["7".to_string(), "bash".to_string()],
        ];
        let widths = super::fit(["PID", "COMMAND"], [0, 0], &mut rows, 20);
        assert_eq!(widths, [4, 15]);
        assert_eq!(rows[0][1], "python train.p…");
        assert_eq!(rows[1][1], "bash");
    }
}
