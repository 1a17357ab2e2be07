//! The aggregation kernel: change points of rolling windows, computed from
//! events sorted by key and time, without the keys × slides grid.
//!
//! Rows are at multiples of the slide `S` (a day unless declared) since the
//! epoch; the row at `T` aggregates the events with `T − W <= ts < T`. An
//! event in slide bucket `B` (times `B·S ..< (B+1)·S`) is inside the rows
//! `B+1 ..= B+W/S`, so a key's values can only change at buckets `B+1` and
//! `B+W/S+1` of its events, plus the first row of the run. The kernel
//! evaluates the windows at those candidates only and keeps a row where the
//! values differ from the previous candidate's (null equals null), which is
//! exactly the change-point dedup of the dense grid, an emptied window
//! included. Cost grows with events × windows, whatever the slide.
//!
//! Events are first folded into one accumulator per key and slide bucket (or
//! per key and exact timestamp without windows); a window value merges the
//! buckets in its range, so sums are recomputed rather than slid, and never
//! drift.

use crate::spec::Aggregation;

/// The values of one aggregated input column, in event order.
#[derive(Debug)]
pub(crate) enum Values {
    /// Only nullness is needed (`count` of a non-numeric column).
    Validity(Vec<bool>),
    /// Integer column.
    Int(Vec<Option<i64>>),
    /// Float column.
    Float(Vec<Option<f64>>),
    /// Any column, each value replaced by its rank among the column's
    /// distinct values (equal values, equal ids; smaller values, smaller
    /// ids), for the functions that compare or return values.
    Ids {
        ids: Vec<Option<u32>>,
        /// The lists of ids `most_frequent_set` returned, each under one id.
        sets: SetTable,
        /// For `max_by`/`min_by`: the rank of each event's ordering value
        /// (null: the event is left out).
        ordering: Option<Vec<Option<u32>>>,
    },
    /// Column `of`, of which each window counts one event per subset id
    /// (`distinct`): the first, or the last, by time.
    Distinct {
        of: usize,
        subset: std::sync::Arc<Vec<u32>>,
        keep_last: bool,
    },
}

/// Lists of value ids, each stored once under a number, so that a list is a
/// [`Cell`] and equal lists are equal cells.
#[derive(Debug, Default)]
pub(crate) struct SetTable(std::sync::Mutex<SetTableInner>);

#[derive(Debug, Default)]
struct SetTableInner {
    numbers: std::collections::HashMap<Vec<u32>, u32>,
    lists: Vec<Vec<u32>>,
}

impl SetTable {
    /// The number of `list`, new or already stored.
    fn number(&self, list: Vec<u32>) -> u32 {
        let mut table = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&n) = table.numbers.get(&list) {
            return n;
        }
        let n = table.lists.len() as u32;
        table.lists.push(list.clone());
        table.numbers.insert(list, n);
        n
    }

    /// Every list stored, by number.
    pub(crate) fn lists(&self) -> Vec<Vec<u32>> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .lists
            .clone()
    }
}

impl Values {
    fn is_int(&self) -> bool {
        matches!(self, Values::Int(_))
    }
}

/// One output column of the kernel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KernelOutput {
    /// Index into [`KernelInput::columns`].
    pub column: usize,
    /// The aggregation.
    pub aggregation: Aggregation,
    /// Window length in slides; ignored without windows.
    pub window: i64,
}

/// Events sorted by key then time.
#[derive(Debug)]
pub(crate) struct KernelInput {
    /// Start row of each key's events, followed by the number of rows.
    pub group_offsets: Vec<usize>,
    /// Event time in microseconds since the epoch. Events without a time
    /// are in no window: they are left out of the input (a key whose
    /// events all lack one is a group without events).
    pub ts: Vec<i64>,
    /// Aggregated input columns.
    pub columns: Vec<Values>,
    /// For each column under a pivot, whether each event has the pivot
    /// value: the others are in none of the column's windows, so a window
    /// without one is null, as a Spark pivot leaves absent cells (`None`
    /// when every event counts).
    pub members: Vec<Option<std::sync::Arc<Vec<bool>>>>,
}

impl KernelInput {
    /// Whether event `i` is in the windows of `column`.
    fn member(&self, column: usize, i: usize) -> bool {
        match self.members.get(column) {
            Some(Some(m)) => m[i],
            _ => true,
        }
    }
}

/// Which rows to produce.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    /// Rolling windows, rows at `first ..= last` times `slide` (rows are
    /// numbered in slides since the epoch).
    Sliding {
        /// The slide in microseconds (a day, or a divisor of it).
        slide: i64,
        /// First row of the run.
        first: i64,
        /// Last row of the run.
        last: i64,
    },
    /// Group by key and exact timestamp, keeping timestamps in `[from, until)`.
    Exact {
        /// Inclusive lower bound, microseconds.
        from: i64,
        /// Exclusive upper bound, microseconds.
        until: i64,
    },
}

/// A computed value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Float(f64),
}

impl PartialEq for Cell {
    /// Null equals null; floats compare by bits, as a hash would.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Cell::Null, Cell::Null) => true,
            (Cell::Int(a), Cell::Int(b)) => a == b,
            (Cell::Float(a), Cell::Float(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        }
    }
}

/// The kernel's result: one row per change point, in key then time order.
#[derive(Debug, Default)]
pub(crate) struct KernelResult {
    /// Index of the key's group.
    pub group: Vec<u32>,
    /// Row number in slides (sliding mode) or timestamp in microseconds
    /// (exact mode).
    pub at: Vec<i64>,
    /// One vector per output, each `group.len()` long.
    pub cells: Vec<Vec<Cell>>,
}

/// Folded events of one bucket, or of a window of buckets.
#[derive(Debug, Clone, Copy)]
struct Acc {
    /// Events (with a time) in the bucket.
    rows: i64,
    /// Non-null values.
    n: i64,
    sum_i: i128,
    /// Sum of squares of integer values; `None` once it overflows.
    sum_sq_i: Option<i128>,
    sum_f: f64,
    min_i: i64,
    max_i: i64,
    min_f: f64,
    max_f: f64,
    mean: f64,
    m2: f64,
}

impl Acc {
    const EMPTY: Acc = Acc {
        rows: 0,
        n: 0,
        sum_i: 0,
        sum_sq_i: Some(0),
        sum_f: 0.0,
        min_i: i64::MAX,
        max_i: i64::MIN,
        min_f: f64::INFINITY,
        max_f: f64::NEG_INFINITY,
        mean: 0.0,
        m2: 0.0,
    };

    fn push_moment(&mut self, x: f64) {
        // Welford's update, as Spark's CentralMomentAgg does it.
        let n = self.n as f64;
        let delta = x - self.mean;
        let delta_n = delta / n;
        self.mean += delta_n;
        self.m2 += delta * (delta - delta_n);
    }

    fn push_int(&mut self, v: Option<i64>) {
        self.rows += 1;
        if let Some(x) = v {
            self.n += 1;
            self.sum_i += i128::from(x);
            self.sum_sq_i = self
                .sum_sq_i
                .and_then(|s| s.checked_add(i128::from(x) * i128::from(x)));
            self.min_i = self.min_i.min(x);
            self.max_i = self.max_i.max(x);
            self.push_moment(x as f64);
        }
    }

    fn push_float(&mut self, v: Option<f64>) {
        self.rows += 1;
        if let Some(x) = v {
            self.n += 1;
            self.sum_f += x;
            if nan_greater(self.min_f, x) {
                self.min_f = x;
            }
            if nan_greater(x, self.max_f) {
                self.max_f = x;
            }
            self.push_moment(x);
        }
    }

    fn push_valid(&mut self, valid: bool) {
        self.rows += 1;
        self.n += i64::from(valid);
    }

    fn merge(&mut self, o: &Acc) {
        // Spark's merge of central moments.
        let (n1, n2) = (self.n as f64, o.n as f64);
        let n = n1 + n2;
        let delta = o.mean - self.mean;
        let delta_n = if n == 0.0 { 0.0 } else { delta / n };
        self.mean += delta_n * n2;
        self.m2 += o.m2 + delta * delta_n * n1 * n2;
        self.rows += o.rows;
        self.n += o.n;
        self.sum_i += o.sum_i;
        self.sum_sq_i = match (self.sum_sq_i, o.sum_sq_i) {
            (Some(a), Some(b)) => a.checked_add(b),
            _ => None,
        };
        self.sum_f += o.sum_f;
        self.min_i = self.min_i.min(o.min_i);
        self.max_i = self.max_i.max(o.max_i);
        if nan_greater(self.min_f, o.min_f) {
            self.min_f = o.min_f;
        }
        if nan_greater(o.max_f, self.max_f) {
            self.max_f = o.max_f;
        }
    }

    fn moment_stddev(&self) -> f64 {
        (self.m2 / self.n as f64).max(0.0).sqrt()
    }

    /// Population standard deviation of integers from exact integer moments:
    /// `sqrt((n·Σx² − (Σx)²) / n²)`, so equal windows give equal bits whatever
    /// the order of the events. `None` if the moments overflow.
    fn exact_stddev(&self) -> Option<f64> {
        let n = i128::from(self.n);
        let num = n
            .checked_mul(self.sum_sq_i?)?
            .checked_sub(self.sum_i.checked_mul(self.sum_i)?)?;
        Some((num as f64 / (self.n as f64 * self.n as f64)).sqrt())
    }

    /// `Σ(x − mean)²` of integers from exact integer moments,
    /// `(n·Σx² − (Σx)²) / n`, so equal windows give equal bits whatever the
    /// order of the events. `None` if the moments overflow.
    fn exact_m2(&self) -> Option<f64> {
        let n = i128::from(self.n);
        let num = n
            .checked_mul(self.sum_sq_i?)?
            .checked_sub(self.sum_i.checked_mul(self.sum_i)?)?;
        Some(num as f64 / self.n as f64)
    }

    /// The aggregate, or null when the window has no event. NaN becomes null.
    fn finish(&self, agg: Aggregation, int: bool) -> Cell {
        let agg = agg.canonical();
        if self.rows == 0 {
            return Cell::Null;
        }
        if agg == Aggregation::Count {
            return Cell::Int(self.n);
        }
        if agg == Aggregation::CountIf {
            // Booleans are read as 0 and 1: their sum counts the `true`s.
            return Cell::Int(i64::try_from(self.sum_i).unwrap_or(i64::MAX));
        }
        if self.n == 0 {
            return Cell::Null;
        }
        let cell = match (agg, int) {
            (Aggregation::Sum, true) => match i64::try_from(self.sum_i) {
                Ok(v) => Cell::Int(v),
                // Out of range of the widest output type: report as a float so
                // the cast to the declared type fails loudly instead of wrapping.
                Err(_) => Cell::Float(self.sum_i as f64),
            },
            (Aggregation::Sum, false) => Cell::Float(self.sum_f),
            (Aggregation::Avg, true) => Cell::Float(self.sum_i as f64 / self.n as f64),
            (Aggregation::Avg, false) => Cell::Float(self.sum_f / self.n as f64),
            (Aggregation::Min, true) => Cell::Int(self.min_i),
            (Aggregation::Max, true) => Cell::Int(self.max_i),
            (Aggregation::Min, false) => Cell::Float(self.min_f),
            (Aggregation::Max, false) => Cell::Float(self.max_f),
            (Aggregation::StddevPop, true) => {
                Cell::Float(self.exact_stddev().unwrap_or_else(|| self.moment_stddev()))
            }
            (Aggregation::StddevPop, false) => Cell::Float(self.moment_stddev()),
            (Aggregation::VarPop, true) => match self.exact_m2() {
                Some(m2) => Cell::Float(m2 / self.n as f64),
                None => Cell::Float(self.m2 / self.n as f64),
            },
            (Aggregation::VarPop, false) => Cell::Float(self.m2 / self.n as f64),
            (Aggregation::VarSamp | Aggregation::StddevSamp, _) if self.n == 1 => Cell::Null,
            (Aggregation::VarSamp, true) => {
                Cell::Float(self.exact_m2().unwrap_or(self.m2) / (self.n - 1) as f64)
            }
            (Aggregation::VarSamp, false) => Cell::Float(self.m2 / (self.n - 1) as f64),
            (Aggregation::StddevSamp, true) => Cell::Float(
                (self.exact_m2().unwrap_or(self.m2) / (self.n - 1) as f64)
                    .max(0.0)
                    .sqrt(),
            ),
            (Aggregation::StddevSamp, false) => {
                Cell::Float((self.m2 / (self.n - 1) as f64).max(0.0).sqrt())
            }
            // Computed from the window's events by `holistic`, never from buckets.
            (
                Aggregation::CountDistinct
                | Aggregation::ApproxCountDistinct
                | Aggregation::First
                | Aggregation::Last
                | Aggregation::FirstIgnoreNulls
                | Aggregation::LastIgnoreNulls
                | Aggregation::Mode
                | Aggregation::MostFrequentSet
                | Aggregation::Percentile(_)
                | Aggregation::PercentileApprox(_)
                | Aggregation::ApproxPercentile(_)
                | Aggregation::Median
                | Aggregation::Product
                | Aggregation::Skewness
                | Aggregation::Kurtosis
                | Aggregation::SumDistinct
                | Aggregation::CollectList
                | Aggregation::CollectSet
                | Aggregation::MaxBy(_)
                | Aggregation::MinBy(_),
                _,
            ) => Cell::Null,
            // Of booleans read as 0 and 1.
            (Aggregation::BoolAnd, _) => Cell::Int(i64::from(self.min_i == 1)),
            (Aggregation::BoolOr, _) => Cell::Int(i64::from(self.max_i == 1)),
            (Aggregation::CountIf, _) => unreachable!("handled above"),
            // Replaced by the functions they name above.
            (Aggregation::Mean | Aggregation::Stddev | Aggregation::Variance, _) => Cell::Null,
            // Plain feature sets never reach the kernel.
            (Aggregation::Value | Aggregation::Lag(_) | Aggregation::Lead(_), _) => Cell::Null,
            (Aggregation::Count, _) => unreachable!("handled above"),
        };
        match cell {
            Cell::Float(f) if f.is_nan() => Cell::Null,
            c => c,
        }
    }
}

/// `a > b` where NaN is greater than every number (Spark's ordering).
fn nan_greater(a: f64, b: f64) -> bool {
    match (a.is_nan(), b.is_nan()) {
        (true, false) => true,
        (_, true) => false,
        (false, false) => a > b,
    }
}

/// Running totals of a column's buckets: entry `i` covers buckets `..i`.
/// Counts and integer sums are exact, so a window is the difference of two
/// entries, with the same bits as merging its buckets.
#[derive(Default, Clone)]
struct Prefix {
    rows: Vec<i64>,
    n: Vec<i64>,
    sum_i: Vec<i128>,
    /// `None` from the first overflow on.
    sum_sq_i: Vec<Option<i128>>,
}

impl Prefix {
    fn rebuild(&mut self, accs: &[Acc]) {
        self.rows.clear();
        self.n.clear();
        self.sum_i.clear();
        self.sum_sq_i.clear();
        let (mut rows, mut n, mut sum, mut sq) = (0i64, 0i64, 0i128, Some(0i128));
        self.rows.push(rows);
        self.n.push(n);
        self.sum_i.push(sum);
        self.sum_sq_i.push(sq);
        for a in accs {
            rows += a.rows;
            n += a.n;
            sum += a.sum_i;
            sq = match (sq, a.sum_sq_i) {
                (Some(x), Some(y)) => x.checked_add(y),
                _ => None,
            };
            self.rows.push(rows);
            self.n.push(n);
            self.sum_i.push(sum);
            self.sum_sq_i.push(sq);
        }
    }

    /// [`rebuild`](Self::rebuild) of the events and values only, for a
    /// column only counted (the sums, 16 bytes a bucket each, unused).
    fn rebuild_counts(&mut self, accs: &[Acc]) {
        self.rows.clear();
        self.n.clear();
        self.sum_i.clear();
        self.sum_sq_i.clear();
        let (mut rows, mut n) = (0i64, 0i64);
        self.rows.push(rows);
        self.n.push(n);
        for a in accs {
            rows += a.rows;
            n += a.n;
            self.rows.push(rows);
            self.n.push(n);
        }
    }

    /// The buckets `lo..hi` folded, for the aggregations [`prefix_ok`] allows.
    fn window(&self, lo: usize, hi: usize) -> Acc {
        Acc {
            rows: self.rows[hi] - self.rows[lo],
            n: self.n[hi] - self.n[lo],
            sum_i: self.sum_i[hi] - self.sum_i[lo],
            sum_sq_i: match (self.sum_sq_i[hi], self.sum_sq_i[lo]) {
                (Some(h), Some(l)) => Some(h - l),
                _ => None,
            },
            ..Acc::EMPTY
        }
    }

    /// The events and the non-null values of buckets `lo..hi`.
    fn counts(&self, lo: usize, hi: usize) -> (i64, i64) {
        (self.rows[hi] - self.rows[lo], self.n[hi] - self.n[lo])
    }

    /// Whether the sums of squares stayed exact for this key.
    fn squares_exact(&self) -> bool {
        self.sum_sq_i.last().is_some_and(Option::is_some)
    }
}

/// Whether every output over a column can be finished from exact running
/// totals (counts and integer sums), rather than by merging buckets.
fn prefix_ok(values: &Values, aggregations: impl IntoIterator<Item = Aggregation>) -> bool {
    let int_like = matches!(values, Values::Validity(_) | Values::Int(_));
    int_like
        && aggregations.into_iter().all(|a| {
            matches!(
                a,
                Aggregation::Count | Aggregation::Sum | Aggregation::Avg | Aggregation::StddevPop
            ) && (a == Aggregation::Count || values.is_int())
        })
}

/// Reusable per-key buffers.
#[derive(Default)]
struct Scratch {
    buckets: Vec<i64>,
    /// `accs[column][bucket]`.
    accs: Vec<Vec<Acc>>,
    /// Running totals of the columns that use them.
    prefix: Vec<Prefix>,
    /// Whether each column's windows come from `prefix` for this key.
    prefixed: Vec<bool>,
    /// Per (column, window) pair: the window's first and end bucket.
    bounds: Vec<(usize, usize)>,
    candidates: Vec<i64>,
    merged: Vec<Acc>,
    /// Per pair: whether every output over it is a count read from the
    /// running totals for this key, as `counts` (events, non-null values)
    /// rather than as a whole `Acc` in `merged`.
    counted: Vec<bool>,
    counts: Vec<(i64, i64)>,
    row: Vec<Cell>,
    prev: Vec<Cell>,
}

/// Runs the kernel over every group.
pub(crate) fn run(input: &KernelInput, outputs: &[KernelOutput], mode: Mode) -> KernelResult {
    run_groups(
        input,
        outputs,
        mode,
        0..input.group_offsets.len().saturating_sub(1),
    )
}

/// Runs the kernel over a range of groups (the unit of parallel work).
pub(crate) fn run_groups(
    input: &KernelInput,
    outputs: &[KernelOutput],
    mode: Mode,
    groups: std::ops::Range<usize>,
) -> KernelResult {
    // Distinct (column, window) pairs: each is merged once per candidate row.
    let mut pairs: Vec<(usize, i64)> = Vec::new();
    let pair_of: Vec<usize> = outputs
        .iter()
        .map(|o| {
            let key = (o.column, o.window);
            match pairs.iter().position(|p| *p == key) {
                Some(i) => i,
                None => {
                    pairs.push(key);
                    pairs.len() - 1
                }
            }
        })
        .collect();
    let mut windows: Vec<i64> = pairs.iter().map(|p| p.1).collect();
    windows.sort_unstable();
    windows.dedup();
    // Pairs whose every output is a count: with running totals, a window
    // is two subtractions. (Folding each window into an `Acc`, a dozen
    // fields, for them: the kernel's thread time for 10M events was
    // 1.2-1.36 s, against 0.86-1.1 s without.)
    let count_pair: Vec<bool> = (0..pairs.len())
        .map(|pi| {
            outputs
                .iter()
                .zip(&pair_of)
                .filter(|(_, &p)| p == pi)
                .all(|(o, _)| {
                    o.aggregation.canonical() == Aggregation::Count
                        && !matches!(input.columns[o.column], Values::Distinct { .. })
                })
        })
        .collect();
    // Columns only counted: their running totals are of events and values.
    let counts_only: Vec<bool> = (0..input.columns.len())
        .map(|c| {
            pairs
                .iter()
                .zip(&count_pair)
                .all(|(&(col, _), &count)| col != c || count)
        })
        .collect();
    let stddev_pair: Vec<bool> = (0..pairs.len())
        .map(|pi| {
            outputs
                .iter()
                .zip(&pair_of)
                .any(|(o, &p)| p == pi && o.aggregation == Aggregation::StddevPop)
        })
        .collect();
    // Columns whose windows come from running totals.
    let use_prefix: Vec<bool> = input
        .columns
        .iter()
        .enumerate()
        .map(|(c, values)| {
            prefix_ok(
                values,
                outputs
                    .iter()
                    .filter(|o| o.column == c)
                    .map(|o| o.aggregation),
            )
        })
        .collect();

    let mut out = KernelResult {
        cells: vec![Vec::new(); outputs.len()],
        ..KernelResult::default()
    };
    let mut s = Scratch {
        accs: vec![Vec::new(); input.columns.len()],
        merged: vec![Acc::EMPTY; pairs.len()],
        counted: vec![false; pairs.len()],
        counts: vec![(0, 0); pairs.len()],
        prefix: vec![Prefix::default(); input.columns.len()],
        prefixed: vec![false; input.columns.len()],
        bounds: vec![(0, 0); pairs.len()],
        row: vec![Cell::Null; outputs.len()],
        prev: vec![Cell::Null; outputs.len()],
        ..Scratch::default()
    };
    let bucket_width = match mode {
        Mode::Sliding { slide, .. } => slide,
        Mode::Exact { .. } => 1,
    };
    for g in groups {
        let (start, end) = (input.group_offsets[g], input.group_offsets[g + 1]);
        fill_buckets(input, start, end, bucket_width, &mut s);
        for (c, &wanted) in use_prefix.iter().enumerate() {
            s.prefixed[c] = wanted
                && if counts_only[c] {
                    s.prefix[c].rebuild_counts(&s.accs[c]);
                    true
                } else {
                    s.prefix[c].rebuild(&s.accs[c]);
                    // With overflowing squares, stddev needs the merged moments.
                    s.prefix[c].squares_exact()
                };
        }
        for (pi, &(col, _)) in pairs.iter().enumerate() {
            s.counted[pi] = count_pair[pi] && s.prefixed[col];
        }
        s.bounds.iter_mut().for_each(|b| *b = (0, 0));
        s.candidates.clear();
        match mode {
            Mode::Sliding { first, last, .. } => {
                if first > last {
                    continue;
                }
                s.candidates.push(first);
                for &b in &s.buckets {
                    for &w in &windows {
                        for c in [b + 1, b + w + 1] {
                            if c > first && c <= last {
                                s.candidates.push(c);
                            }
                        }
                    }
                }
                s.candidates.sort_unstable();
                s.candidates.dedup();
            }
            Mode::Exact { from, until } => s.candidates.extend(
                s.buckets
                    .iter()
                    .copied()
                    .filter(|&t| t >= from && t < until),
            ),
        }
        let mut first = true;
        for ci in 0..s.candidates.len() {
            let at = s.candidates[ci];
            for (pi, &(col, w)) in pairs.iter().enumerate() {
                let (lo, hi) = match mode {
                    Mode::Sliding { .. } => {
                        // Candidates increase, so both edges only move forward.
                        let (mut lo, mut hi) = s.bounds[pi];
                        while lo < s.buckets.len() && s.buckets[lo] < at - w {
                            lo += 1;
                        }
                        hi = hi.max(lo);
                        while hi < s.buckets.len() && s.buckets[hi] < at {
                            hi += 1;
                        }
                        s.bounds[pi] = (lo, hi);
                        (lo, hi)
                    }
                    Mode::Exact { .. } => {
                        let i = s.buckets.partition_point(|&t| t < at);
                        (i, i + 1)
                    }
                };
                if s.counted[pi] {
                    s.counts[pi] = s.prefix[col].counts(lo, hi);
                    continue;
                }
                let from_prefix = s.prefixed[col]
                    .then(|| s.prefix[col].window(lo, hi))
                    // The exact stddev can still overflow in its products.
                    .filter(|acc| !stddev_pair[pi] || acc.n == 0 || acc.exact_stddev().is_some());
                s.merged[pi] = match from_prefix {
                    Some(acc) => acc,
                    None => {
                        let mut acc = Acc::EMPTY;
                        for b in &s.accs[col][lo..hi] {
                            acc.merge(b);
                        }
                        acc
                    }
                };
            }
            for (oi, o) in outputs.iter().enumerate() {
                let distinct = matches!(input.columns[o.column], Values::Distinct { .. });
                let pi = pair_of[oi];
                s.row[oi] = if s.counted[pi] {
                    // `Acc::finish` of a count.
                    match s.counts[pi] {
                        (0, _) => Cell::Null,
                        (_, n) => Cell::Int(n),
                    }
                } else if distinct || is_holistic(o.aggregation) {
                    let events = window_events(input, start..end, mode, at, o.window);
                    holistic(input, o, events)
                } else {
                    s.merged[pi].finish(o.aggregation, input.columns[o.column].is_int())
                };
            }
            if first || s.row != s.prev {
                out.group.push(g as u32);
                out.at.push(at);
                for (oi, cell) in s.row.iter().enumerate() {
                    out.cells[oi].push(*cell);
                }
                std::mem::swap(&mut s.row, &mut s.prev);
                first = false;
            }
        }
    }
    out
}

/// Folds a key's events into buckets of `width` microseconds.
fn fill_buckets(input: &KernelInput, start: usize, end: usize, width: i64, s: &mut Scratch) {
    s.buckets.clear();
    for accs in &mut s.accs {
        accs.clear();
    }
    for i in start..end {
        let b = input.ts[i].div_euclid(width);
        if s.buckets.last() != Some(&b) {
            debug_assert!(
                s.buckets.last().is_none_or(|&l| l < b),
                "events must be sorted"
            );
            s.buckets.push(b);
            for accs in &mut s.accs {
                accs.push(Acc::EMPTY);
            }
        }
        for (c, values) in input.columns.iter().enumerate() {
            let acc = s.accs[c].last_mut().expect("a bucket was just pushed");
            if !input.member(c, i) {
                continue;
            }
            match values {
                Values::Validity(v) => acc.push_valid(v[i]),
                Values::Int(v) => acc.push_int(v[i]),
                Values::Float(v) => acc.push_float(v[i]),
                Values::Ids { ids, .. } => acc.push_valid(ids[i].is_some()),
                // Read per window, by `holistic`.
                Values::Distinct { .. } => {}
            }
        }
    }
    if s.accs.is_empty() {
        // No aggregated column: nothing to fold (not reachable from a valid spec).
    }
}

/// Whether `agg` needs the window's events themselves, rather than
/// buckets folded into an [`Acc`].
pub(crate) fn is_holistic(agg: Aggregation) -> bool {
    matches!(
        agg,
        Aggregation::CountDistinct
            | Aggregation::ApproxCountDistinct
            | Aggregation::First
            | Aggregation::Last
            | Aggregation::FirstIgnoreNulls
            | Aggregation::LastIgnoreNulls
            | Aggregation::Mode
            | Aggregation::MostFrequentSet
            | Aggregation::Percentile(_)
            | Aggregation::PercentileApprox(_)
            | Aggregation::ApproxPercentile(_)
            | Aggregation::Median
            | Aggregation::Product
            | Aggregation::Skewness
            | Aggregation::Kurtosis
            | Aggregation::SumDistinct
            | Aggregation::CollectList
            | Aggregation::CollectSet
            | Aggregation::MaxBy(_)
            | Aggregation::MinBy(_)
    )
}

/// The events of `group` inside the window of the row at `at`: times in
/// `[at − window, at)` (slides) in sliding mode, equal to `at` in exact mode.
fn window_events(
    input: &KernelInput,
    group: std::ops::Range<usize>,
    mode: Mode,
    at: i64,
    window: i64,
) -> std::ops::Range<usize> {
    let (lo, hi) = match mode {
        Mode::Sliding { slide, .. } => ((at - window) * slide, at * slide),
        Mode::Exact { .. } => (at, at.saturating_add(1)),
    };
    let ts = &input.ts[group.clone()];
    let first = ts.partition_point(|t| *t < lo);
    let last = ts.partition_point(|t| *t < hi);
    group.start + first..group.start + last
}

/// A function computed from the events `events` of one window rather than
/// from buckets (holistic functions, and any function under `distinct`):
/// null when the window has no event (of the column's pivot value).
fn holistic(input: &KernelInput, o: &KernelOutput, events: std::ops::Range<usize>) -> Cell {
    if !events.clone().any(|i| input.member(o.column, i)) {
        return Cell::Null;
    }
    match &input.columns[o.column] {
        Values::Distinct {
            of,
            subset,
            keep_last,
        } => {
            // Duplicates are dropped among every event, then the pivot
            // value selects, as Butterfree dedups before it pivots.
            let kept = distinct_events(input, *of, subset, *keep_last, events);
            if !kept.iter().any(|&i| input.member(*of, i)) {
                return Cell::Null;
            }
            evaluate(input, o.aggregation, *of, kept.iter().copied())
        }
        _ => evaluate(input, o.aggregation, o.column, events),
    }
}

/// Of the events with equal subset ids, the first or last by time (then by
/// the value of column `of`, nulls smallest), in event order.
fn distinct_events(
    input: &KernelInput,
    of: usize,
    subset: &[u32],
    keep_last: bool,
    events: std::ops::Range<usize>,
) -> Vec<usize> {
    let column = &input.columns[of];
    let mut kept: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    for i in events {
        match kept.get(&subset[i]) {
            Some(&j) => {
                let order = input.ts[i]
                    .cmp(&input.ts[j])
                    .then_with(|| value_order(column, i, j));
                let better = if keep_last {
                    order.is_gt()
                } else {
                    order.is_lt()
                };
                if better {
                    kept.insert(subset[i], i);
                }
            }
            None => {
                kept.insert(subset[i], i);
            }
        }
    }
    let mut kept: Vec<usize> = kept.into_values().collect();
    kept.sort_unstable();
    kept
}

/// The order of the values of rows `a` and `b`, nulls first.
fn value_order(column: &Values, a: usize, b: usize) -> std::cmp::Ordering {
    match column {
        Values::Validity(v) => v[a].cmp(&v[b]),
        Values::Int(v) => v[a].cmp(&v[b]),
        Values::Float(v) => match (v[a], v[b]) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        },
        Values::Ids { ids, .. } => ids[a].cmp(&ids[b]),
        Values::Distinct { .. } => std::cmp::Ordering::Equal,
    }
}

/// `agg` over the events `events` (not empty) of column `column`, in time
/// then read order.
pub(crate) fn evaluate<I: Iterator<Item = usize> + Clone>(
    input: &KernelInput,
    agg: Aggregation,
    column: usize,
    events: I,
) -> Cell {
    let events = events.filter(move |&i| input.member(column, i));
    let agg = agg.canonical();
    let values = &input.columns[column];
    if !is_holistic(agg) {
        let mut acc = Acc::EMPTY;
        for i in events {
            match values {
                Values::Validity(v) => acc.push_valid(v[i]),
                Values::Int(v) => acc.push_int(v[i]),
                Values::Float(v) => acc.push_float(v[i]),
                Values::Ids { ids, .. } => acc.push_valid(ids[i].is_some()),
                Values::Distinct { .. } => {}
            }
        }
        return acc.finish(agg, values.is_int());
    }
    match (agg, values) {
        (Aggregation::Percentile(p), Values::Int(v)) => {
            percentile(events.filter_map(|i| v[i]).map(|x| x as f64), p.value())
        }
        (Aggregation::Percentile(p), Values::Float(v)) => {
            percentile(events.filter_map(|i| v[i]), p.value())
        }
        (Aggregation::PercentileApprox(p), Values::Int(v)) => {
            let mut sorted: Vec<i64> = events.filter_map(|i| v[i]).collect();
            sorted.sort_unstable();
            rank_index(sorted.len(), p.value()).map_or(Cell::Null, |k| Cell::Int(sorted[k]))
        }
        (Aggregation::PercentileApprox(p), Values::Float(v)) => {
            let mut sorted: Vec<f64> = events.filter_map(|i| v[i]).collect();
            sorted.sort_unstable_by(f64::total_cmp);
            rank_index(sorted.len(), p.value()).map_or(Cell::Null, |k| float_cell(sorted[k]))
        }
        (Aggregation::Product, Values::Int(v)) => {
            product(events.filter_map(|i| v[i]).map(|x| x as f64))
        }
        (Aggregation::Product, Values::Float(v)) => product(events.filter_map(|i| v[i])),
        (Aggregation::Skewness | Aggregation::Kurtosis, Values::Int(v)) => {
            moments(agg, events.filter_map(|i| v[i]).map(|x| x as f64))
        }
        (Aggregation::Skewness | Aggregation::Kurtosis, Values::Float(v)) => {
            moments(agg, events.filter_map(|i| v[i]))
        }
        (Aggregation::SumDistinct, Values::Int(v)) => {
            let mut sorted: Vec<i64> = events.filter_map(|i| v[i]).collect();
            if sorted.is_empty() {
                return Cell::Null;
            }
            sorted.sort_unstable();
            sorted.dedup();
            let sum: i128 = sorted.iter().map(|&x| i128::from(x)).sum();
            // Out of range: a float, so the cast to the declared type fails.
            i64::try_from(sum).map_or(Cell::Float(sum as f64), Cell::Int)
        }
        (Aggregation::SumDistinct, Values::Float(v)) => {
            // Spark's distinct: -0.0 is 0.0 and NaNs are one value.
            let mut sorted: Vec<f64> = events
                .filter_map(|i| v[i])
                .map(|x| if x == 0.0 { 0.0 } else { x })
                .collect();
            if sorted.is_empty() {
                return Cell::Null;
            }
            sorted.sort_unstable_by(f64::total_cmp);
            sorted.dedup_by(|a, b| a.total_cmp(b).is_eq() || (a.is_nan() && b.is_nan()));
            float_cell(sorted.iter().sum())
        }
        (
            agg,
            Values::Ids {
                ids,
                sets,
                ordering,
            },
        ) => {
            // In time, then read, order.
            let mut timed = events;
            let id_cell = |id: Option<u32>| id.map_or(Cell::Null, |id| Cell::Int(id.into()));
            if let (Aggregation::MaxBy(_) | Aggregation::MinBy(_), Some(ordering)) = (agg, ordering)
            {
                // Spark keeps the later of equal orderings (`old > new` keeps
                // the old one, else takes the new): ties go to the latest.
                let largest = matches!(agg, Aggregation::MaxBy(_));
                let mut best: Option<(u32, usize)> = None;
                for i in timed {
                    let Some(o) = ordering[i] else { continue };
                    let better = best.is_none_or(|(b, _)| if largest { o >= b } else { o <= b });
                    if better {
                        best = Some((o, i));
                    }
                }
                return best.map_or(Cell::Null, |(_, i)| id_cell(ids[i]));
            }
            match agg {
                Aggregation::First => return id_cell(timed.next().and_then(|i| ids[i])),
                Aggregation::Last => return id_cell(timed.last().and_then(|i| ids[i])),
                Aggregation::FirstIgnoreNulls => return id_cell(timed.find_map(|i| ids[i])),
                Aggregation::LastIgnoreNulls => {
                    return id_cell(timed.filter_map(|i| ids[i]).last())
                }
                _ => {}
            }
            let values = timed.filter_map(|i| Some((input.ts[i], ids[i]?)));
            if agg == Aggregation::CollectList {
                let list = values.map(|(_, id)| id).collect();
                return Cell::Int(sets.number(list).into());
            }
            match agg {
                Aggregation::First
                | Aggregation::Last
                | Aggregation::FirstIgnoreNulls
                | Aggregation::LastIgnoreNulls => unreachable!("returned above"),
                Aggregation::Mode => {
                    let mut sorted: Vec<u32> = values.map(|(_, id)| id).collect();
                    sorted.sort_unstable();
                    // Runs of equal ids, smallest first: the first longest run wins.
                    let mut best: Option<(usize, u32)> = None;
                    for run in sorted.chunk_by(|a, b| a == b) {
                        if best.is_none_or(|(n, _)| run.len() > n) {
                            best = Some((run.len(), run[0]));
                        }
                    }
                    best.map_or(Cell::Null, |(_, id)| Cell::Int(id.into()))
                }
                Aggregation::CollectSet => {
                    // Each id once, at its first appearance.
                    let mut seen: Vec<(u32, u32)> = values
                        .enumerate()
                        .map(|(position, (_, id))| (id, position as u32))
                        .collect();
                    seen.sort_unstable();
                    seen.dedup_by_key(|(id, _)| *id);
                    seen.sort_unstable_by_key(|(_, position)| *position);
                    let list = seen.into_iter().map(|(id, _)| id).collect();
                    Cell::Int(sets.number(list).into())
                }
                Aggregation::MostFrequentSet => {
                    // (id, position in the window): a run of one id starts
                    // at its first appearance.
                    let mut sorted: Vec<(u32, u32)> = values
                        .enumerate()
                        .map(|(position, (_, id))| (id, position as u32))
                        .collect();
                    sorted.sort_unstable();
                    let mut runs: Vec<(usize, u32, u32)> = sorted
                        .chunk_by(|a, b| a.0 == b.0)
                        .map(|run| (run.len(), run[0].1, run[0].0))
                        .collect();
                    // Most frequent first, then first appearance (Butterfree's order).
                    runs.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
                    let list = runs.into_iter().map(|(_, _, id)| id).collect();
                    Cell::Int(sets.number(list).into())
                }
                _ => {
                    let mut sorted: Vec<u32> = values.map(|(_, id)| id).collect();
                    sorted.sort_unstable();
                    sorted.dedup();
                    Cell::Int(sorted.len() as i64)
                }
            }
        }
        // The engine gives holistic functions the column they need.
        _ => Cell::Null,
    }
}

/// The index of Spark's `percentile_approx` in `n` sorted values, computed
/// exactly: the first value whose 1-based rank reaches `⌈p·n⌉` (in
/// floating point, as Spark's `QuantileSummaries` computes it).
fn rank_index(n: usize, p: f64) -> Option<usize> {
    if n == 0 {
        return None;
    }
    let rank = (p * n as f64).ceil() as usize;
    Some(rank.clamp(1, n) - 1)
}

/// A float, null when NaN (as every aggregate here).
fn float_cell(x: f64) -> Cell {
    if x.is_nan() {
        Cell::Null
    } else {
        Cell::Float(x)
    }
}

/// Spark's `product`: the values multiplied as floats, in event order.
fn product(values: impl Iterator<Item = f64>) -> Cell {
    let mut any = false;
    let mut product = 1.0;
    for x in values {
        any = true;
        product *= x;
    }
    if any {
        float_cell(product)
    } else {
        Cell::Null
    }
}

/// Spark's `skewness` and `kurtosis` from the central moments
/// `mₖ = Σ(x − mean)ᵏ`: null without values, and when `m₂` is 0 (Spark 3's
/// default; its legacy setting gives NaN).
fn moments(agg: Aggregation, values: impl Iterator<Item = f64> + Clone) -> Cell {
    let (mut n, mut sum) = (0.0, 0.0);
    for x in values.clone() {
        n += 1.0;
        sum += x;
    }
    if n == 0.0 {
        return Cell::Null;
    }
    let mean = sum / n;
    let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
    for x in values {
        let d = x - mean;
        m2 += d * d;
        m3 += d * d * d;
        m4 += d * d * d * d;
    }
    if m2 == 0.0 {
        return Cell::Null;
    }
    float_cell(match agg {
        Aggregation::Skewness => n.sqrt() * m3 / (m2 * m2 * m2).sqrt(),
        _ => n * m4 / (m2 * m2) - 3.0,
    })
}

/// Spark's exact `percentile`: linear interpolation between the two values
/// nearest to position `p·(n − 1)` of the sorted values; NaN sorts last.
fn percentile(values: impl Iterator<Item = f64>, p: f64) -> Cell {
    let mut sorted: Vec<f64> = values.collect();
    if sorted.is_empty() {
        return Cell::Null;
    }
    sorted.sort_unstable_by(|a, b| a.total_cmp(b));
    let position = p * (sorted.len() - 1) as f64;
    let (lower, higher) = (position.floor(), position.ceil());
    let (lo, hi) = (sorted[lower as usize], sorted[higher as usize]);
    let value = if lower == higher {
        lo
    } else {
        (higher - position) * lo + (position - lower) * hi
    };
    if value.is_nan() {
        Cell::Null
    } else {
        Cell::Float(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::DAY_US;

    fn day(d: i64) -> i64 {
        d * DAY_US
    }

    fn daily(first: i64, last: i64) -> Mode {
        Mode::Sliding {
            slide: DAY_US,
            first,
            last,
        }
    }

    #[test]
    fn count_change_points_follow_the_window_edges() {
        // One key, events on days 10 and 11; 3-day window; run days 5..=20.
        let input = KernelInput {
            group_offsets: vec![0, 2],
            ts: vec![day(10) + 5, day(11)],
            columns: vec![Values::Validity(vec![true, true])],
            members: vec![None],
        };
        let outs = [KernelOutput {
            column: 0,
            aggregation: Aggregation::Count,
            window: 3,
        }];
        let r = run(&input, &outs, daily(5, 20));
        // day 5: empty (null); 11: {10} = 1; 12: {10,11} = 2; 14: {11} = 1; 15: empty.
        assert_eq!(r.at, vec![5, 11, 12, 14, 15]);
        assert_eq!(
            r.cells[0],
            vec![
                Cell::Null,
                Cell::Int(1),
                Cell::Int(2),
                Cell::Int(1),
                Cell::Null
            ]
        );
    }

    #[test]
    fn an_hourly_slide_is_the_daily_kernel_in_hours() {
        // Events at 10:00 sharp and 10:30; 2-hour window, hourly rows
        // 08:00 ..= 15:00: row T holds [T − 2h, T).
        const HOUR: i64 = DAY_US / 24;
        let input = KernelInput {
            group_offsets: vec![0, 2],
            ts: vec![10 * HOUR, 10 * HOUR + HOUR / 2],
            columns: vec![Values::Int(vec![Some(3), Some(4)])],
            members: vec![None],
        };
        let outs = [KernelOutput {
            column: 0,
            aggregation: Aggregation::Sum,
            window: 2,
        }];
        let r = run(
            &input,
            &outs,
            Mode::Sliding {
                slide: HOUR,
                first: 8,
                last: 15,
            },
        );
        // 08:00 empty; 11:00 and 12:00 both hold the two events; 13:00 the
        // window has emptied.
        assert_eq!(r.at, vec![8, 11, 13]);
        assert_eq!(r.cells[0], vec![Cell::Null, Cell::Int(7), Cell::Null]);
    }

    #[test]
    fn count_of_nulls_is_zero_but_no_event_is_null() {
        let input = KernelInput {
            group_offsets: vec![0, 1],
            ts: vec![day(1)],
            columns: vec![Values::Validity(vec![false])],
            members: vec![None],
        };
        let outs = [KernelOutput {
            column: 0,
            aggregation: Aggregation::Count,
            window: 1,
        }];
        let r = run(&input, &outs, daily(1, 3));
        assert_eq!(r.at, vec![1, 2, 3]);
        assert_eq!(r.cells[0], vec![Cell::Null, Cell::Int(0), Cell::Null]);
    }

    #[test]
    fn stddev_and_avg_of_integers() {
        let input = KernelInput {
            group_offsets: vec![0, 3],
            ts: vec![day(1), day(1) + 1, day(2)],
            columns: vec![Values::Int(vec![Some(2), Some(4), None])],
            members: vec![None],
        };
        let outs = [
            KernelOutput {
                column: 0,
                aggregation: Aggregation::Avg,
                window: 7,
            },
            KernelOutput {
                column: 0,
                aggregation: Aggregation::StddevPop,
                window: 7,
            },
            KernelOutput {
                column: 0,
                aggregation: Aggregation::Sum,
                window: 7,
            },
        ];
        let r = run(&input, &outs, daily(2, 2));
        assert_eq!(r.cells[0], vec![Cell::Float(3.0)]);
        assert_eq!(r.cells[1], vec![Cell::Float(1.0)]);
        assert_eq!(r.cells[2], vec![Cell::Int(6)]);
    }

    #[test]
    fn stddev_falls_back_to_moments_when_exact_products_overflow() {
        // n·Σx² overflows i128 for these: the window must come from merged
        // moments, not from running totals (which carry no moments).
        let x = 4_000_000_000_000_000_000i64;
        let input = KernelInput {
            group_offsets: vec![0, 4],
            ts: vec![day(1), day(1) + 1, day(1) + 2, day(1) + 3],
            columns: vec![Values::Int(vec![Some(x), Some(-x), Some(x), Some(-x)])],
            members: vec![None],
        };
        let outs = [
            KernelOutput {
                column: 0,
                aggregation: Aggregation::StddevPop,
                window: 7,
            },
            KernelOutput {
                column: 0,
                aggregation: Aggregation::Count,
                window: 7,
            },
        ];
        let r = run(&input, &outs, daily(2, 2));
        // Mean 0, every value 4e18 away from it: the deviation is 4e18.
        let Cell::Float(sd) = r.cells[0][0] else {
            panic!("{:?}", r.cells[0]);
        };
        assert!((sd - 4e18).abs() / 4e18 < 1e-12, "{sd}");
        assert_eq!(r.cells[1], vec![Cell::Int(4)]);
    }

    #[test]
    fn exact_mode_groups_by_timestamp_and_dedups() {
        let input = KernelInput {
            group_offsets: vec![0, 4],
            ts: vec![10, 10, 20, 30],
            columns: vec![Values::Int(vec![Some(1), Some(2), Some(3), Some(3)])],
            members: vec![None],
        };
        let outs = [KernelOutput {
            column: 0,
            aggregation: Aggregation::Sum,
            window: 0,
        }];
        let r = run(
            &input,
            &outs,
            Mode::Exact {
                from: 0,
                until: 100,
            },
        );
        // ts 10 → 3, ts 20 → 3 (same as before: dropped), ts 30 → 3 (dropped).
        assert_eq!(r.at, vec![10]);
        assert_eq!(r.cells[0], vec![Cell::Int(3)]);
    }
}
