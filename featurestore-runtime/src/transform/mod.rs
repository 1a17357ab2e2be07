//! Transform: from a source's events to a feature set's rows.

pub(crate) mod kernel;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::dtype::polars_dtype;
use crate::error::{polars_message, Error, PolarsContext, Result};
use crate::expr::{apply_sql, fill_literal};
use crate::source::split::{note_read, ColumnRead, ColumnsRead};
use crate::spec::{Aggregation, FeatureSetSpec, TIMESTAMP_COLUMN};
use crate::time::{day_to_date, epoch_day, DAY_US};
use kernel::{Cell, KernelInput, KernelOutput, Mode, Values};

const TS: &str = "__fs_ts";
const NEW_GROUP: &str = "__fs_new_group";

/// The dates a run covers, inclusive; `end` is required with windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DateRange {
    /// First day of output rows; default: the day of the earliest event.
    pub start: Option<NaiveDate>,
    /// Last day of output rows.
    pub end: Option<NaiveDate>,
}

/// A feature set's rows for a run.
#[derive(Debug, Clone)]
pub struct Computed {
    /// Keys, `timestamp`, then the output columns, sorted by key and time.
    pub frame: DataFrame,
    /// The days whose rows this run produced (every day of it, rows or not):
    /// the day partitions a run replaces. `None` when the input is empty.
    pub days: Option<(NaiveDate, NaiveDate)>,
}

fn data_error(spec: &FeatureSetSpec, message: impl Into<String>) -> Error {
    Error::Data {
        feature_set: spec.name.to_string(),
        message: message.into(),
    }
}

/// A failure reading a feature set's events, attributed to its source; the
/// caller, which knows where the source was read from, fills in the location.
fn events_error(spec: &FeatureSetSpec, e: &PolarsError) -> Error {
    Error::Source {
        source_name: spec.source.name.to_string(),
        location: String::new(),
        message: polars_message(e),
    }
}

/// Applies the feature set's `query` and `filter` to its source's events.
pub fn prepare_events(spec: &FeatureSetSpec, events: LazyFrame) -> Result<LazyFrame> {
    apply_sql(events, spec.source.name, spec.query, spec.filter).map_err(|m| data_error(spec, m))
}

/// A feature set's events, reduced to what computing it reads.
///
/// Built by [`prepare`] while the source is in memory; once every feature set
/// over a source is prepared, the source can be dropped before any of them is
/// computed, so a run never holds a whole source and a feature set's working
/// memory at once.
pub struct Prepared(PreparedEvents);

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            PreparedEvents::Plain(_) => f.write_str("Prepared(plain events)"),
            PreparedEvents::Aggregated(df) => write!(f, "Prepared({} events)", df.height()),
        }
    }
}

enum PreparedEvents {
    /// A plain feature set: its events after hooks, `query` and `filter`.
    Plain(Box<LazyFrame>),
    /// An aggregated one: keys, event time and the aggregated inputs only
    /// (an input only counted as its validity), unsorted.
    Aggregated(DataFrame),
}

/// Computes a feature set's rows from its source's events (before `query`/`filter`).
pub fn compute(spec: &FeatureSetSpec, events: LazyFrame, range: DateRange) -> Result<Computed> {
    compute_prepared(spec, prepare(spec, events, range)?, range)
}

/// Runs a feature set's pre-hooks, `query` and `filter` on its source's
/// events and keeps only the columns its computation reads.
pub fn prepare(spec: &FeatureSetSpec, events: LazyFrame, range: DateRange) -> Result<Prepared> {
    if !spec.windows.is_empty() && range.end.is_none() {
        return Err(Error::Invalid(format!(
            "feature set `{}` has rolling windows: an end date is required (`--end-date YYYY-MM-DD`)",
            spec.name
        )));
    }
    if let (Some(s), Some(e)) = (range.start, range.end) {
        if s > e {
            return Err(Error::Invalid(format!(
                "the start date {s} is after the end date {e}"
            )));
        }
    }
    let events = run_hooks(spec, spec.pre_hooks, "pre_hooks", events)?;
    if spec.is_plain() {
        return Ok(Prepared(PreparedEvents::Plain(Box::new(prepare_events(
            spec, events,
        )?))));
    }
    let mut lf = prepare_events(spec, events)?;
    let schema = lf
        .collect_schema()
        .map_err(|e| data_error(spec, format!("cannot plan the events: {e}")))?;
    let inputs = aggregated_inputs(spec);
    for name in spec
        .key_names()
        .chain(std::iter::once(spec.timestamp))
        .chain(inputs.iter().filter(|i| !i.condition).map(|i| i.column))
        .chain(inputs.iter().filter_map(|i| i.by))
        .chain(spec.pivot.map(|p| p.column))
        .chain(spec.distinct.iter().flat_map(|d| d.subset.iter().copied()))
    {
        if schema.get(name).is_none() {
            return Err(data_error(
                spec,
                format!("the events have no column `{name}` (after `query`/`filter`)"),
            ));
        }
    }

    let mut select: Vec<Expr> = spec.key_names().map(col).collect();
    select.push(event_time(spec).alias(TS));
    for (i, input) in inputs.iter().enumerate() {
        let e = input_expr(spec, input)?;
        // An input only counted is only needed as its validity: sorting a
        // boolean is far cheaper than sorting the values (often strings).
        let e = if only_counted(spec, input) {
            e.is_not_null()
        } else {
            e
        };
        select.push(e.alias(format!("__fs_in{i}")));
        if let Some(by) = input.by {
            select.push(input_column_expr(spec, input, col(by))?.alias(format!("__fs_by{i}")));
        }
        if let (Some(pivot), Some(v)) = (spec.pivot, input.pivot) {
            // Which events have the pivot value: the input's nulls alone
            // cannot tell them from events of the value with a null.
            select.push(
                col(pivot.column)
                    .eq(pivot_literal(pivot.values[v]))
                    .fill_null(lit(false))
                    .alias(format!("__fs_p{i}")),
            );
        }
    }
    if let Some(distinct) = spec.distinct {
        for (j, c) in distinct.subset.iter().enumerate() {
            select.push(col(*c).alias(format!("__fs_d{j}")));
        }
    }
    let df = lf
        .select(select)
        .collect()
        .map_err(|e| events_error(spec, &e))?;
    for (i, input) in inputs.iter().enumerate() {
        let dtype = df.column(&format!("__fs_in{i}")).map(|c| c.dtype().clone());
        if input.condition && !matches!(dtype, Ok(DataType::Boolean)) {
            return Err(data_error(
                spec,
                format!(
                    "the condition \"{}\" of `count_if` is not true or false but {}: write \
                     a comparison, e.g. \"amount > 100\"",
                    input.column,
                    dtype.map_or_else(|e| e.to_string(), |d| d.to_string())
                ),
            ));
        }
    }
    Ok(Prepared(PreparedEvents::Aggregated(df)))
}

/// How many prepared events are dated after the end date, after now, and
/// on or before the end date. Events after the end date are in no window of
/// the run, by design; they are counted so a wrong `--end-date` or a clock
/// gone wrong upstream is visible, and a run without any event up to its
/// end date writes nothing.
pub(crate) fn late_events(
    spec: &FeatureSetSpec,
    prepared: &Prepared,
    range: DateRange,
) -> Result<(usize, usize, usize)> {
    Ok(first_and_late_prepared(spec, prepared, range)?.1)
}

/// The earliest prepared event's time (microseconds since the epoch) and
/// [`late_events`], in one pass over the events.
pub(crate) fn first_and_late_prepared(
    spec: &FeatureSetSpec,
    prepared: &Prepared,
    range: DateRange,
) -> Result<(Option<i64>, (usize, usize, usize))> {
    let (events, ts) = match &prepared.0 {
        PreparedEvents::Plain(events) => ((**events).clone(), event_time(spec)),
        PreparedEvents::Aggregated(df) => (df.clone().lazy(), col(TS)),
    };
    first_and_late(spec, events, ts, range)
}

/// The columns of its source from which a feature set's earliest event and
/// late events are found ([`first_and_late_events`]): its time and its
/// `filter`'s columns. `None` with a hook or a `query`, whose events only
/// [`prepare`] gives.
pub(crate) fn time_and_filter_columns(spec: &FeatureSetSpec) -> Option<Vec<PlSmallStr>> {
    if !spec.pre_hooks.is_empty() || spec.query.is_some() {
        return None;
    }
    let mut columns = vec![PlSmallStr::from(spec.timestamp)];
    if let Some(filter) = spec.filter {
        for name in sql_columns(filter)? {
            if !columns.contains(&name) {
                columns.push(name);
            }
        }
    }
    Some(columns)
}

/// The columns the SQL expression `sql` reads; `None` when it does not
/// parse (its error is [`prepare`]'s to give) or selects columns by a
/// pattern or a wildcard, which only its frame's schema resolves.
fn sql_columns(sql: &str) -> Option<Vec<PlSmallStr>> {
    let expr = polars::sql::sql_expr(sql).ok()?;
    let by_pattern = (&expr).into_iter().any(|e| match e {
        Expr::Selector(_) => true,
        Expr::Column(name) => name.starts_with('^') && name.ends_with('$'),
        _ => false,
    });
    (!by_pattern).then(|| expr.meta().root_names())
}

/// [`sql_columns`] of an optional expression: none without one.
fn sql_columns_of(sql: Option<&str>) -> Option<Vec<PlSmallStr>> {
    sql.map_or(Some(Vec::new()), sql_columns)
}

/// The columns of its source that [`prepare`] reads for a feature set, and
/// what of each: a column only counted is read only for its nulls. `None`
/// when it may read any: a hook or a `query` (functions of the whole row),
/// a plain feature set (its events go through whole), or an expression
/// whose columns cannot be told from it alone.
pub(crate) fn source_columns_read(spec: &FeatureSetSpec) -> Option<ColumnsRead> {
    if !spec.pre_hooks.is_empty() || spec.query.is_some() || spec.is_plain() {
        return None;
    }
    let mut read = ColumnsRead::new();
    let mut note = |name: &str, how: ColumnRead| note_read(&mut read, name, how);
    for name in spec.key_names().chain(std::iter::once(spec.timestamp)) {
        note(name, ColumnRead::Values);
    }
    for name in sql_columns_of(spec.filter)? {
        note(&name, ColumnRead::Values);
    }
    for input in aggregated_inputs(spec) {
        if input.condition {
            for name in sql_columns(input.column)? {
                note(&name, ColumnRead::Values);
            }
        } else if only_counted(spec, &input) {
            note(input.column, ColumnRead::Nulls);
        } else {
            note(input.column, ColumnRead::Values);
        }
        for name in sql_columns_of(input.filter)? {
            note(&name, ColumnRead::Values);
        }
        if let Some(by) = input.by {
            note(by, ColumnRead::Values);
        }
    }
    for name in spec
        .pivot
        .map(|p| p.column)
        .into_iter()
        .chain(spec.distinct.iter().flat_map(|d| d.subset.iter().copied()))
    {
        note(name, ColumnRead::Values);
    }
    Some(read)
}

/// The earliest event time (microseconds since the epoch) and the late
/// events ([`late_events`]) of a feature set without hooks or `query`, from
/// its source's rows `events`, which need only hold
/// [`time_and_filter_columns`].
pub(crate) fn first_and_late_events(
    spec: &FeatureSetSpec,
    events: LazyFrame,
    range: DateRange,
) -> Result<(Option<i64>, (usize, usize, usize))> {
    let events = prepare_events(spec, events)?;
    first_and_late(spec, events, event_time(spec), range)
}

/// A feature set's event time, as [`prepare`] reads it.
fn event_time(spec: &FeatureSetSpec) -> Expr {
    col(spec.timestamp).cast(DataType::Datetime(TimeUnit::Microseconds, None))
}

/// The earliest of the times `ts` of `events`, and how many are after the
/// end date, after now, and up to the end date.
fn first_and_late(
    spec: &FeatureSetSpec,
    events: LazyFrame,
    ts: Expr,
    range: DateRange,
) -> Result<(Option<i64>, (usize, usize, usize))> {
    let micros = |m: i64| lit(m).cast(DataType::Datetime(TimeUnit::Microseconds, None));
    let now = chrono::Utc::now().timestamp_micros();
    let after_end = after_end(range);
    let found = events
        .select([
            ts.clone().min().cast(DataType::Int64).alias("first"),
            ts.clone().gt_eq(micros(after_end)).sum().alias("after_end"),
            ts.clone().gt(micros(now)).sum().alias("future"),
            ts.lt(micros(after_end)).sum().alias("until_end"),
        ])
        .collect()
        .ctx(|| format!("counting the late events of `{}`", spec.name))?;
    let get = |name: &str| -> Option<AnyValue<'_>> {
        found.column(name).ok().and_then(|c| c.get(0).ok())
    };
    let count =
        |name: &str| -> usize { get(name).and_then(|v| v.extract::<u64>()).unwrap_or(0) as usize };
    Ok((
        get("first").and_then(|v| v.extract::<i64>()),
        (count("after_end"), count("future"), count("until_end")),
    ))
}

/// The first microsecond after the end date of `range` (`i64::MAX` without
/// one): an event at or after it is in no window of the run.
pub(crate) fn after_end(range: DateRange) -> i64 {
    range
        .end
        .and_then(|e| e.succ_opt())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(i64::MAX, |t| t.and_utc().timestamp_micros())
}

/// Whether a feature set's events, as [`prepare`] reads them, are its
/// source's rows as they are: no hook, `query` or `filter` drops or
/// changes one, so its event times are those of its source's column.
pub(crate) fn reads_source_as_is(spec: &FeatureSetSpec) -> bool {
    spec.pre_hooks.is_empty() && spec.query.is_none() && spec.filter.is_none()
}

/// Refuses events with a null key: no row can be keyed by it.
fn no_null_keys(spec: &FeatureSetSpec, events: &DataFrame) -> Result<()> {
    for k in spec.key_names() {
        let nulls = events
            .column(k)
            .ctx(|| format!("key column `{k}`"))?
            .null_count();
        if nulls > 0 {
            return Err(data_error(
                spec,
                format!("{nulls} event(s) have a null key `{k}`; keys must not be null (filter them out with `filter = \"{k} IS NOT NULL\"`)"),
            ));
        }
    }
    Ok(())
}

/// Distinct aggregated inputs, each read once, in output order.
fn aggregated_inputs(spec: &FeatureSetSpec) -> Vec<Input> {
    let mut inputs: Vec<Input> = Vec::new();
    for o in spec.outputs {
        let input = input_of(spec, o);
        if !inputs.contains(&input) {
            inputs.push(input);
        }
    }
    inputs
}

/// Computes a feature set's rows from its [`prepare`]d events.
pub fn compute_prepared(
    spec: &FeatureSetSpec,
    prepared: Prepared,
    range: DateRange,
) -> Result<Computed> {
    compute_prepared_from(spec, prepared, range, None)
}

/// [`compute_prepared`] on a part of the events holding every event of its
/// keys, the earliest event of all parts being at `first_event`: the rows
/// of those keys that all the events would give.
pub(crate) fn compute_prepared_from(
    spec: &FeatureSetSpec,
    prepared: Prepared,
    range: DateRange,
    first_event: Option<i64>,
) -> Result<Computed> {
    let df = match prepared.0 {
        PreparedEvents::Plain(events) => return plain(spec, *events, range),
        PreparedEvents::Aggregated(df) => df,
    };
    let inputs = aggregated_inputs(spec);
    let keys_of: Vec<&str> = spec.key_names().collect();
    no_null_keys(spec, &df)?;
    let SortedEvents {
        events: df,
        times,
        offsets: group_offsets,
        keys: group_keys,
    } = sort_events(df, &keys_of).map_err(|e| events_error(spec, &e))?;

    // Each group's events are sorted by time: the earliest is a group's first.
    let min_ts = group_offsets
        .windows(2)
        .filter(|g| g[0] < g[1])
        .map(|g| times[g[0]])
        .min();
    let (mut input, ids) = kernel_input(spec, &df, times, &inputs, group_offsets)?;
    // The first day (or slide) of the rows is the earliest event's of the
    // whole run, not of this part's keys.
    let min_ts = match (first_event, min_ts) {
        (Some(f), Some(m)) => Some(f.min(m)),
        (f, m) => f.or(m),
    };

    let (mode, days) = if spec.windows.is_empty() {
        let from = range.start.map_or(i64::MIN, |d| epoch_day(d) * DAY_US);
        let until = range.end.map_or(i64::MAX, |d| (epoch_day(d) + 1) * DAY_US);
        let days = match (range.start, range.end, min_ts) {
            (Some(s), Some(e), _) => Some((s, e)),
            (None, Some(e), Some(m)) => Some((day_to_date(m.div_euclid(DAY_US)), e)),
            _ => None,
        };
        (Mode::Exact { from, until }, days)
    } else {
        // Checked by `#[feature_set]`; a spec built by hand is checked here.
        let slide = spec.slide.micros();
        if slide <= 0 || DAY_US % slide != 0 {
            return Err(Error::Invalid(format!(
                "feature set `{}` slides by {}, which does not divide a day",
                spec.name, spec.slide
            )));
        }
        if let Some(w) = spec.windows.iter().find(|w| w.micros() % slide != 0) {
            return Err(Error::Invalid(format!(
                "feature set `{}` has a window of {w}, not a multiple of its slide of {}",
                spec.name, spec.slide
            )));
        }
        let per_day = DAY_US / slide;
        let end_day = epoch_day(range.end.expect("checked above"));
        // The end date's every slide: its day partition is whole. With the
        // daily slide, that is the row dated the end date.
        let last = (end_day + 1) * per_day - 1;
        match min_ts {
            Some(m) => {
                let mut first = m.div_euclid(slide);
                if let Some(s) = range.start {
                    first = first.max(epoch_day(s) * per_day);
                }
                // Every event after the end date: Butterfree's day sequence
                // then runs backwards from the first event to the end date,
                // and the dedup keeps its earliest row, dated the end date
                // (every window empty). Keep that row: it is the keys' true
                // state on that day. With a shorter slide, the row is the
                // end date's last.
                first = first.min(last);
                let days = Some((day_to_date(first.div_euclid(per_day)), day_to_date(end_day)));
                (Mode::Sliding { slide, first, last }, days)
            }
            // No event has a time: no output row, and no day is covered.
            None => (
                Mode::Sliding {
                    slide,
                    first: 1,
                    last: 0,
                },
                None,
            ),
        }
    };

    let subset = match spec.distinct {
        Some(distinct) => Some(subset_ids(spec, &df, distinct.subset)?),
        None => None,
    };
    // With `distinct`, each output reads a view of its column that keeps one
    // event per subset value in each window.
    let mut views: Vec<(usize, usize)> = Vec::new();
    let mut outputs: Vec<KernelOutput> = Vec::with_capacity(spec.outputs.len());
    for o in spec.outputs {
        let i = input_index(spec, &inputs, o);
        let mut column = match ids.get(&i) {
            Some(ids) if by_id(o.aggregation) => ids.column,
            _ => i,
        };
        if let (Some(subset), Some(distinct)) = (&subset, spec.distinct) {
            column = match views.iter().find(|(of, _)| *of == column) {
                Some(&(_, view)) => view,
                None => {
                    input.columns.push(Values::Distinct {
                        of: column,
                        subset: subset.clone(),
                        keep_last: distinct.keep == crate::spec::Keep::Last,
                    });
                    input.members.push(input.members[column].clone());
                    views.push((column, input.columns.len() - 1));
                    input.columns.len() - 1
                }
            };
        }
        outputs.push(KernelOutput {
            column,
            aggregation: o.aggregation,
            // The declaration checks that the slide divides every window.
            window: o.window.map_or(0, |w| w.micros() / spec.slide.micros()),
        });
    }
    // The kernel holds its own copy of the times and values: the rows are
    // built from the keys, and from the inputs whose values are returned by
    // id. The rest is freed before the output grows.
    let kept: Vec<String> = ids.keys().map(|i| format!("__fs_in{i}")).collect();
    let df = df.select(kept).ctx(|| "returned values".into())?;
    let frame = run_to_frame(spec, &df, &group_keys, input, &outputs, mode, &inputs, &ids)?;
    let frame = post_hooks(spec, frame)?;
    Ok(Computed { frame, days })
}

/// A plain feature set: one row per event with a time, in `range` (whole
/// days, inclusive), sorted by key and time; each feature cast to its type.
fn plain(spec: &FeatureSetSpec, events: LazyFrame, range: DateRange) -> Result<Computed> {
    let mut select: Vec<Expr> = spec.key_names().map(col).collect();
    select.push(
        col(spec.timestamp)
            .cast(DataType::Datetime(TimeUnit::Microseconds, None))
            .alias(TIMESTAMP_COLUMN),
    );
    // Columns read by window functions and lag/lead, each once.
    let mut raw: Vec<&'static str> = Vec::new();
    for output in spec.outputs {
        let feature = &spec.features[output.feature];
        if feature.plain.is_none() && !raw.contains(&feature.column) {
            raw.push(feature.column);
        }
    }
    for output in spec.outputs {
        let feature = &spec.features[output.feature];
        let expr = match feature.plain {
            Some(crate::spec::PlainSpec::Sql(sql)) => polars::sql::sql_expr(sql).map_err(|e| {
                data_error(
                    spec,
                    format!(
                        "the SQL of `{}` is not a valid expression: {}",
                        feature.name,
                        polars_message(&e)
                    ),
                )
            })?,
            Some(crate::spec::PlainSpec::Function(f)) => (f.run)(col(feature.column)),
            Some(crate::spec::PlainSpec::Column) => col(feature.column),
            None => continue,
        };
        select.push(
            expr.strict_cast(polars_dtype(output.dtype))
                .alias(output.name),
        );
    }
    for (k, c) in raw.iter().enumerate() {
        let condition = spec
            .features
            .iter()
            .any(|f| f.plain.is_none() && f.column == *c && f.condition);
        select.push(source_value(spec, c, condition)?.alias(format!("__fs_w{k}")));
    }
    let ts = col(TIMESTAMP_COLUMN);
    let mut keep = lit(true);
    if let Some(start) = range.start {
        keep = keep.and(
            ts.clone()
                .gt_eq(lit(start.and_hms_opt(0, 0, 0).unwrap_or_default())),
        );
    }
    if let Some(end) = range.end {
        let after = end + chrono::Duration::days(1);
        keep = keep.and(ts.lt(lit(after.and_hms_opt(0, 0, 0).unwrap_or_default())));
    }
    let mut sort_by: Vec<&str> = spec.key_names().collect();
    sort_by.push(TIMESTAMP_COLUMN);
    let keys: Vec<Expr> = spec.key_names().map(col).collect();
    let mut new_group: Option<Expr> = None;
    for k in spec.key_names() {
        let changed = col(k).neq_missing(col(k).shift(lit(1)));
        new_group = Some(match new_group {
            Some(e) => e.or(changed),
            None => changed,
        });
    }
    let mut shifts: Vec<Expr> = Vec::new();
    for output in spec.outputs {
        let feature = &spec.features[output.feature];
        let by = match output.aggregation {
            Aggregation::Lag(n) => i64::from(n),
            Aggregation::Lead(n) => -i64::from(n),
            _ => continue,
        };
        if feature.frame.is_some() {
            continue;
        }
        let k = raw.iter().position(|c| *c == feature.column).unwrap_or(0);
        let shifted = col(format!("__fs_w{k}"))
            .shift(lit(by))
            .over(keys.clone())
            .map_err(|e| data_error(spec, format!("`{}`: {}", output.name, polars_message(&e))))?;
        shifts.push(
            shifted
                .strict_cast(polars_dtype(output.dtype))
                .alias(output.name),
        );
    }
    // Windows and lags see every event; the rows of the run's days are
    // selected after them.
    let mut lf = events
        .select(select)
        .filter(col(TIMESTAMP_COLUMN).is_not_null())
        .sort(
            sort_by,
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .with_column(new_group.unwrap_or_else(|| lit(true)).alias(NEW_GROUP));
    if !shifts.is_empty() {
        lf = lf.with_columns(shifts);
    }
    let mut all = lf.collect().map_err(|e| {
        data_error(
            spec,
            format!("cannot compute the rows: {}", polars_message(&e)),
        )
    })?;
    window_functions(spec, &mut all, &raw)?;
    let mut columns: Vec<Expr> = spec.key_names().map(col).collect();
    columns.push(col(TIMESTAMP_COLUMN));
    columns.extend(spec.outputs.iter().map(|o| col(o.name)));
    let mut lf = all.lazy().filter(keep).select(columns);
    let filled = filled_columns(spec);
    if !filled.is_empty() {
        lf = lf.with_columns(filled);
    }
    let frame = lf.collect().map_err(|e| {
        data_error(
            spec,
            format!("cannot compute the rows: {}", polars_message(&e)),
        )
    })?;
    no_null_keys(spec, &frame)?;
    let times = frame
        .column(TIMESTAMP_COLUMN)
        .ctx(|| "event time".into())?
        .datetime()
        .ctx(|| "event time".into())?
        .physical()
        .clone();
    let day = |t: Option<i64>| t.map(|t| day_to_date(t.div_euclid(DAY_US)));
    let days = match (
        range.start.or(day(times.min())),
        range.end.or(day(times.max())),
    ) {
        (Some(s), Some(e)) => Some((s, e)),
        _ => None,
    };
    let frame = post_hooks(spec, frame)?;
    Ok(Computed { frame, days })
}

/// Runs the post-hooks, which must keep the declared columns.
fn post_hooks(spec: &FeatureSetSpec, frame: DataFrame) -> Result<DataFrame> {
    if spec.post_hooks.is_empty() {
        return Ok(frame);
    }
    let frame = run_hooks(spec, spec.post_hooks, "post_hooks", frame.lazy())?
        .collect()
        .map_err(|e| data_error(spec, format!("`post_hooks` failed: {}", polars_message(&e))))?;
    let names: Vec<&str> = frame
        .get_column_names()
        .iter()
        .map(|n| n.as_str())
        .collect();
    if names != spec.column_names() {
        return Err(data_error(
            spec,
            format!(
                "`post_hooks` changed the columns to {names:?}; they must keep the declared \
                 columns {:?}",
                spec.column_names()
            ),
        ));
    }
    Ok(frame)
}

/// Adds the columns of the window functions of a plain feature set to its
/// events, sorted by key and time: each aggregates the events of the
/// event's frame (Butterfree's `SparkFunctionTransform` windows).
fn window_functions(spec: &FeatureSetSpec, frame: &mut DataFrame, raw: &[&str]) -> Result<()> {
    if !spec.features.iter().any(|f| f.frame.is_some()) {
        return Ok(());
    }
    let mut group_offsets = Vec::new();
    let groups = frame.column(NEW_GROUP).ctx(|| "key groups".into())?;
    for (i, g) in groups
        .bool()
        .ctx(|| "key groups".into())?
        .iter()
        .enumerate()
    {
        if g.unwrap_or(true) {
            group_offsets.push(i);
        }
    }
    group_offsets.push(frame.height());
    let ts = event_times(frame, TIMESTAMP_COLUMN)?;
    let mut columns = Vec::with_capacity(raw.len());
    for (k, name) in raw.iter().enumerate() {
        let c = frame
            .column(&format!("__fs_w{k}"))
            .ctx(|| format!("column `{name}`"))?;
        let values = if c.dtype().is_integer() {
            let c = c
                .cast(&DataType::Int64)
                .ctx(|| format!("column `{name}`"))?;
            Values::Int(c.i64().ctx(|| format!("column `{name}`"))?.iter().collect())
        } else if c.dtype().is_float() {
            let c = c
                .cast(&DataType::Float64)
                .ctx(|| format!("column `{name}`"))?;
            Values::Float(c.f64().ctx(|| format!("column `{name}`"))?.iter().collect())
        } else {
            Values::Validity(c.is_not_null().iter().map(|v| v.unwrap_or(false)).collect())
        };
        columns.push(values);
    }
    let input = KernelInput {
        group_offsets,
        ts,
        members: vec![None; columns.len()],
        columns,
    };
    for output in spec.outputs {
        let feature = &spec.features[output.feature];
        let Some(frame_of) = feature.frame else {
            continue;
        };
        let column = raw.iter().position(|c| *c == feature.column).unwrap_or(0);
        let mut cells = Vec::with_capacity(input.ts.len());
        for g in 0..input.group_offsets.len().saturating_sub(1) {
            let (start, end) = (input.group_offsets[g], input.group_offsets[g + 1]);
            let times = &input.ts[start..end];
            for i in start..end {
                let events = match frame_of {
                    crate::spec::Frame::Range(w) => {
                        let at = input.ts[i];
                        let from = at - w.micros();
                        start + times.partition_point(|t| *t < from)
                            ..start + times.partition_point(|t| *t <= at)
                    }
                    crate::spec::Frame::Rows(n) => {
                        (i + 1).saturating_sub(n as usize).max(start)..i + 1
                    }
                };
                cells.push(kernel::evaluate(&input, output.aggregation, column, events));
            }
        }
        let series = cells_to_series(output.name, cells)
            .strict_cast(&polars_dtype(output.dtype))
            .map_err(|e| {
                data_error(
                    spec,
                    format!(
                        "`{}` does not fit its declared type {}: {e}",
                        output.name, output.dtype
                    ),
                )
            })?;
        frame
            .with_column(series.into_column())
            .ctx(|| format!("column `{}`", output.name))?;
    }
    Ok(())
}

/// Applies `hooks` in order.
fn run_hooks(
    spec: &FeatureSetSpec,
    hooks: &[crate::spec::HookSpec],
    kind: &str,
    mut lf: LazyFrame,
) -> Result<LazyFrame> {
    for hook in hooks {
        lf = (hook.run)(lf).map_err(|e| {
            data_error(
                spec,
                format!(
                    "`{kind}` hook `{}` failed: {}",
                    hook.name,
                    polars_message(&e)
                ),
            )
        })?;
    }
    Ok(lf)
}

/// Runs the kernel over the keys in parallel chunks and builds the rows.
///
/// Chunks are run a wave at a time (one chunk per thread), and each chunk's
/// cells become typed columns before the next wave: the wide per-cell form
/// never holds more than a wave's rows, whatever the size of the input.
#[allow(clippy::too_many_arguments)]
fn run_to_frame(
    spec: &FeatureSetSpec,
    df: &DataFrame,
    group_keys: &DataFrame,
    input: KernelInput,
    outputs: &[KernelOutput],
    mode: Mode,
    inputs: &[Input],
    ids: &Ids,
) -> Result<DataFrame> {
    let groups = input.group_offsets.len().saturating_sub(1);
    let threads = rayon::current_num_threads().max(1);
    if groups < 4096 || threads == 1 {
        let result = kernel::run(&input, outputs, mode);
        return output_frame(
            spec,
            df,
            Some(group_keys),
            &input,
            result,
            mode,
            inputs,
            ids,
        );
    }
    // About 16 chunks per thread: waves stay small, chunks stay balanced.
    let chunk = groups.div_ceil(threads * 16).max(1024);
    let ranges = spans(groups, chunk);
    // The keys are gathered into each part on the thread that computed it.
    // The parts stay chunks of the output, never copied into one: whoever
    // reads the rows goes by chunk (the day split, the latest rows), and the
    // copy, beside the key gather, set the run's peak.
    let mut keys = group_keys.clone();
    keys.rechunk_mut();
    let mut frame: Option<DataFrame> = None;
    for wave in ranges.chunks(threads) {
        let parts: Vec<DataFrame> = {
            use rayon::prelude::*;
            wave.par_iter()
                .map(|r| {
                    let part = kernel::run_groups(&input, outputs, mode, r.clone());
                    output_frame(spec, df, Some(&keys), &input, part, mode, inputs, ids)
                })
                .collect::<Result<_>>()?
        };
        for rows in parts {
            match &mut frame {
                Some(f) => {
                    f.vstack_mut_owned(rows).ctx(|| "output rows".into())?;
                }
                None => frame = Some(rows),
            }
        }
    }
    Ok(frame.expect("at least one chunk"))
}

/// An aggregated input: a source column whose values, on the rows a
/// feature's `filter` or a pivot value leaves out, are nulls.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Input {
    column: &'static str,
    /// `column` is a SQL condition (`count_if("amount > 100")`).
    condition: bool,
    filter: Option<&'static str>,
    /// Index into the pivot's values.
    pivot: Option<usize>,
    /// The ordering column of `max_by`/`min_by`, read beside `column` with
    /// the same filter and pivot value.
    by: Option<&'static str>,
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.column)
    }
}

fn input_of(spec: &FeatureSetSpec, o: &crate::spec::OutputColumn) -> Input {
    let feature = &spec.features[o.feature];
    Input {
        column: feature.column,
        condition: feature.condition,
        filter: feature.filter,
        pivot: o.pivot,
        by: o.aggregation.ordering(),
    }
}

fn input_index(spec: &FeatureSetSpec, inputs: &[Input], o: &crate::spec::OutputColumn) -> usize {
    let input = input_of(spec, o);
    inputs
        .iter()
        .position(|i| *i == input)
        .expect("every output's input is read")
}

/// The column, with nulls where the feature's filter or the pivot value
/// leaves a row out (Butterfree's `when(filter, column)`).
fn input_expr(spec: &FeatureSetSpec, input: &Input) -> Result<Expr> {
    let value = source_value(spec, input.column, input.condition)?;
    input_column_expr(spec, input, value)
}

/// The value a feature's functions take from each event: the source column
/// `column`, or with `condition` the value of the SQL condition `column`
/// (`count_if("amount > 100")`), which must be boolean.
fn source_value(spec: &FeatureSetSpec, column: &'static str, condition: bool) -> Result<Expr> {
    if !condition {
        return Ok(col(column));
    }
    polars::sql::sql_expr(column).map_err(|e| {
        data_error(
            spec,
            format!(
                "the condition \"{column}\" of `count_if` is not a valid expression: {}",
                polars_message(&e)
            ),
        )
    })
}

/// [`input_expr`] of `value`, another value of the same rows (the
/// ordering of `max_by`): a row the filter leaves out is in no window.
fn input_column_expr(spec: &FeatureSetSpec, input: &Input, value: Expr) -> Result<Expr> {
    let mut keep: Option<Expr> = None;
    if let Some(filter) = input.filter {
        let expr = polars::sql::sql_expr(filter).map_err(|e| {
            data_error(
                spec,
                format!(
                    "the `filter` of a feature on `{}` is not a valid expression: {}",
                    input.column,
                    polars_message(&e)
                ),
            )
        })?;
        keep = Some(expr);
    }
    if let (Some(pivot), Some(i)) = (spec.pivot, input.pivot) {
        let is_value = col(pivot.column).eq(pivot_literal(pivot.values[i]));
        keep = Some(match keep {
            Some(k) => k.and(is_value),
            None => is_value,
        });
    }
    Ok(match keep {
        // A null condition leaves the row out, as SQL's `WHERE` does.
        Some(keep) => when(keep.fill_null(lit(false)))
            .then(value)
            .otherwise(lit(NULL)),
        None => value,
    })
}

fn pivot_literal(value: crate::spec::PivotValue) -> Expr {
    match value {
        crate::spec::PivotValue::Int(v) => lit(v),
        crate::spec::PivotValue::Bool(v) => lit(v),
        crate::spec::PivotValue::Str(v) => lit(v),
    }
}

/// The id of each event's values in the `distinct` subset columns: equal
/// values (nulls equal), equal ids.
fn subset_ids(
    spec: &FeatureSetSpec,
    df: &DataFrame,
    subset: &[&str],
) -> Result<std::sync::Arc<Vec<u32>>> {
    let mut tuples: Vec<Option<Vec<Option<u32>>>> = vec![Some(Vec::new()); df.height()];
    for (j, name) in subset.iter().enumerate() {
        let c = df
            .column(&format!("__fs_d{j}"))
            .ctx(|| format!("distinct column `{name}`"))?;
        let (ids, _) = value_ids(c).ctx(|| format!("distinct column `{name}`"))?;
        for (tuple, id) in tuples.iter_mut().zip(ids) {
            if let Some(t) = tuple {
                t.push(id);
            }
        }
    }
    let (ids, _) = encode(&tuples);
    let ids: Option<Vec<u32>> = ids.into_iter().collect();
    ids.map(std::sync::Arc::new)
        .ok_or_else(|| data_error(spec, "cannot tell duplicate events apart"))
}

/// Whether the kernel computes `agg` on the ids of a column's values.
fn by_id(agg: Aggregation) -> bool {
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
            | Aggregation::CollectList
            | Aggregation::CollectSet
            | Aggregation::MaxBy(_)
            | Aggregation::MinBy(_)
    )
}

/// Whether `agg` needs the numbers of its column, not just which are null.
fn needs_numbers(agg: Aggregation) -> bool {
    !by_id(agg) && agg != Aggregation::Count
}

/// An input column encoded as ids of its distinct values.
#[derive(Debug)]
struct IdColumn {
    /// Index of the ids in [`KernelInput::columns`].
    column: usize,
    /// For each id, in value order, a row holding that value.
    rows: Vec<IdxSize>,
}

/// Totally ordered floats: `-0.0` is `0.0` and every NaN is one value,
/// greater than all numbers, as Spark groups them.
#[derive(Debug, Clone, Copy, PartialEq)]
struct TotalF64(f64);

impl Eq for TotalF64 {}

impl PartialOrd for TotalF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TotalF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let norm = |x: f64| {
            if x.is_nan() {
                f64::NAN
            } else if x == 0.0 {
                0.0
            } else {
                x
            }
        };
        norm(self.0).total_cmp(&norm(other.0))
    }
}

/// Ranks the distinct values of a column: the id of each row's value, and
/// for each id a row holding its value.
fn encode<K: Ord>(values: &[Option<K>]) -> (Vec<Option<u32>>, Vec<IdxSize>) {
    let mut order: Vec<usize> = (0..values.len()).filter(|&i| values[i].is_some()).collect();
    order.sort_by(|&a, &b| values[a].cmp(&values[b]));
    let mut ids = vec![None; values.len()];
    let mut rows: Vec<IdxSize> = Vec::new();
    let mut previous: Option<usize> = None;
    for i in order {
        if previous.is_none_or(|p| values[p] != values[i]) {
            rows.push(i as IdxSize);
            previous = Some(i);
        }
        ids[i] = Some((rows.len() - 1) as u32);
    }
    (ids, rows)
}

/// The ids of a column's values (see [`encode`]).
fn value_ids(c: &Column) -> PolarsResult<(Vec<Option<u32>>, Vec<IdxSize>)> {
    let dtype = c.dtype();
    if dtype.is_float() {
        let f = c.cast(&DataType::Float64)?;
        let values: Vec<Option<TotalF64>> = f.f64()?.iter().map(|v| v.map(TotalF64)).collect();
        Ok(encode(&values))
    } else if dtype == &DataType::String {
        let values: Vec<Option<&str>> = c.str()?.iter().collect();
        Ok(encode(&values))
    } else {
        // Integers, booleans, dates and times: ordered as their physical integers.
        let i = c.to_physical_repr().cast(&DataType::Int64)?;
        let values: Vec<Option<i64>> = i.i64()?.iter().collect();
        Ok(encode(&values))
    }
}

type Ids = std::collections::HashMap<usize, IdColumn>;

fn kernel_input(
    spec: &FeatureSetSpec,
    df: &DataFrame,
    ts: Vec<i64>,
    inputs: &[Input],
    group_offsets: Vec<usize>,
) -> Result<(KernelInput, Ids)> {
    let mut columns = Vec::with_capacity(inputs.len());
    for (i, name) in inputs.iter().enumerate() {
        let only_count = spec
            .outputs
            .iter()
            .filter(|o| input_of(spec, o) == *name)
            .all(|o| !needs_numbers(o.aggregation));
        let c = df
            .column(&format!("__fs_in{i}"))
            .ctx(|| format!("column `{name}`"))?;
        let values = if only_counted(spec, name) {
            // Selected as its validity already.
            let valid = c.bool().ctx(|| format!("validity of `{name}`"))?;
            Values::Validity(valid.iter().map(|v| v.unwrap_or(false)).collect())
        } else if only_count {
            let valid = c.is_not_null();
            Values::Validity(valid.iter().map(|v| v.unwrap_or(false)).collect())
        } else if c.dtype().is_integer() {
            let c = c
                .cast(&DataType::Int64)
                .ctx(|| format!("column `{name}`"))?;
            Values::Int(c.i64().ctx(|| format!("column `{name}`"))?.iter().collect())
        } else if c.dtype().is_float() {
            let c = c
                .cast(&DataType::Float64)
                .ctx(|| format!("column `{name}`"))?;
            Values::Float(c.f64().ctx(|| format!("column `{name}`"))?.iter().collect())
        } else if c.dtype() == &DataType::Boolean {
            // `count_if`, `bool_and`, `bool_or`: `true` is 1, `false` 0.
            let c = c
                .cast(&DataType::Int64)
                .ctx(|| format!("column `{name}`"))?;
            Values::Int(c.i64().ctx(|| format!("column `{name}`"))?.iter().collect())
        } else {
            return Err(data_error(
                spec,
                format!(
                    "column `{name}` is {} but a numeric aggregation needs numbers",
                    c.dtype()
                ),
            ));
        };
        columns.push(values);
    }
    let mut members: Vec<Option<std::sync::Arc<Vec<bool>>>> = Vec::with_capacity(columns.len());
    for (i, input) in inputs.iter().enumerate() {
        members.push(match input.pivot {
            Some(_) => {
                let name = format!("__fs_p{i}");
                let m = df
                    .column(&name)
                    .ctx(|| format!("pivot value of `{input}`"))?
                    .bool()
                    .ctx(|| format!("pivot value of `{input}`"))?
                    .iter()
                    .map(|v| v.unwrap_or(false))
                    .collect();
                Some(std::sync::Arc::new(m))
            }
            None => None,
        });
    }
    // Columns some function reads by value id get a second, encoded, input.
    let mut ids = Ids::new();
    for (i, name) in inputs.iter().enumerate() {
        let wanted = spec
            .outputs
            .iter()
            .any(|o| input_of(spec, o) == *name && by_id(o.aggregation));
        if !wanted {
            continue;
        }
        let c = df
            .column(&format!("__fs_in{i}"))
            .ctx(|| format!("column `{name}`"))?;
        let (values, rows) = value_ids(c).ctx(|| format!("column `{name}`"))?;
        ids.insert(
            i,
            IdColumn {
                column: columns.len(),
                rows,
            },
        );
        let ordering = match name.by {
            Some(by) => {
                let c = df
                    .column(&format!("__fs_by{i}"))
                    .ctx(|| format!("column `{by}`"))?;
                Some(value_ids(c).ctx(|| format!("column `{by}`"))?.0)
            }
            None => None,
        };
        columns.push(Values::Ids {
            ids: values,
            sets: kernel::SetTable::default(),
            ordering,
        });
        members.push(members[i].clone());
    }
    Ok((
        KernelInput {
            group_offsets,
            ts,
            columns,
            members,
        },
        ids,
    ))
}

/// Events sorted by key, time and input row, in groups of one key.
struct SortedEvents {
    /// The events with a time, without their key and time columns.
    events: DataFrame,
    /// The time of each of `events`, microseconds since the epoch.
    times: Vec<i64>,
    /// Where each group starts in `events`, and the number of events last.
    offsets: Vec<usize>,
    /// The key columns, one row per group, in group order.
    keys: DataFrame,
}

/// Sorts events by (key, time, input row) and groups them by key. The keys
/// are hashed into groups (by [`short_text_groups`] for a key of short
/// texts, else by polars' group-by) and only the distinct keys sorted; rows
/// are then placed by their group's rank, in input order, and each group
/// sorted by (time, row), so events at the same time keep the order they
/// were read in. The key columns are not copied per
/// event (a gather of every event's key text was half the cost of the
/// sort): each output row takes its key from `keys`. The times are
/// gathered as the groups are sorted, not taken as a column.
///
/// Events without a time are in no window and are left out; their key
/// still has its group (of no events), as it has rows.
fn sort_events(df: DataFrame, keys: &[&str]) -> PolarsResult<SortedEvents> {
    let n = df.height();
    let key_columns = df.select(keys.iter().copied())?;
    let mut events = df.drop_many(keys.iter().copied());
    let ts = events.drop_in_place(TS)?;
    let ts = ts.datetime()?.physical();
    if n == 0 {
        return Ok(SortedEvents {
            events,
            times: Vec::new(),
            offsets: vec![0],
            keys: key_columns,
        });
    }
    let times = ChunkedTimes::new(ts.downcast_iter().map(|c| c.values().as_slice()));
    let timed: Option<Vec<bool>> =
        (ts.null_count() > 0).then(|| ts.iter().map(|t| t.is_some()).collect());
    let timed = timed.as_deref();
    let is_timed = |r: usize| timed.is_none_or(|t| t[r]);
    let short = match keys {
        [key] => short_text_groups(key_columns.column(key)?),
        _ => None,
    };
    let (mut rows, mut sorted_times, offsets, sorted_keys) = match short {
        Some(ShortGroups { ranks, keys }) => {
            let (rows, sorted_times, offsets) =
                place_by_rank(&ranks, keys.len(), &times, &is_timed);
            drop(ranks);
            let keys = DataFrame::new(keys.len(), vec![keys.into_column()])?;
            (rows, sorted_times, offsets, keys)
        }
        None => {
            let gb = key_columns.group_by(keys.iter().copied())?;
            let unique = DataFrame::new_infer_height(gb.keys())?
                .with_row_index("__fs_group".into(), None)?;
            let sorted_keys = unique.sort(keys.to_vec(), SortMultipleOptions::default())?;
            let order = sorted_keys
                .column("__fs_group")?
                .idx()?
                .to_vec_null_aware()
                .left()
                .ok_or_else(|| polars_err!(ComputeError: "null group index"))?;
            let groups = gb.get_groups();
            let mut offsets = Vec::with_capacity(order.len() + 1);
            offsets.push(0usize);
            for &g in &order {
                let size = match groups.get(g as usize) {
                    group if timed.is_none() => group.len(),
                    GroupsIndicator::Idx((_, group)) => {
                        group.iter().filter(|&&r| is_timed(r as usize)).count()
                    }
                    GroupsIndicator::Slice([first, len]) => (first..first + len)
                        .filter(|&r| is_timed(r as usize))
                        .count(),
                };
                offsets.push(offsets[offsets.len() - 1] + size);
            }
            let mut rows = vec![0 as IdxSize; offsets[order.len()]];
            let mut sorted_times = vec![0i64; rows.len()];
            place_groups(
                (&mut rows, &mut sorted_times),
                &offsets,
                &order,
                groups,
                &times,
                timed,
            );
            (rows, sorted_times, offsets, sorted_keys.drop("__fs_group")?)
        }
    };
    sort_groups_by_time(&mut rows, &mut sorted_times, &offsets);
    let idx = IdxCa::from_vec("idx".into(), rows);
    // The reader's chunks in one: a gather across chunks looks up each
    // row's chunk (0.37 s for 10M events, against 0.01 s for the copy).
    events.rechunk_mut();
    Ok(SortedEvents {
        events: events.take(&idx)?,
        times: sorted_times,
        offsets,
        keys: sorted_keys,
    })
}

/// Distinct views numbered in order of appearance. The table holds 4-byte
/// numbers into `views`: a map of views to numbers took 32 bytes a slot (its
/// 16-byte key aligned), 33 MB for 500k keys, as large as the machine's
/// cache, and each row's lookup went to memory (10M events, eight runs each:
/// the compute stage 1.19 s at best and 1.39 s at the median, against 1.28
/// and 1.45 s).
#[derive(Default)]
struct ViewNumbers {
    hasher: foldhash::fast::RandomState,
    table: hashbrown::HashTable<u32>,
    views: Vec<u128>,
}

impl ViewNumbers {
    /// The number of view `v`, a new one if it is not numbered yet.
    fn number(&mut self, v: u128) -> u32 {
        use std::hash::BuildHasher;
        let Self {
            hasher,
            table,
            views,
        } = self;
        let hash = hasher.hash_one(v);
        if let Some(&g) = table.find(hash, |&g| views[g as usize] == v) {
            return g;
        }
        let g = views.len() as u32;
        views.push(v);
        table.insert_unique(hash, g, |&g| hasher.hash_one(views[g as usize]));
        g
    }
}

/// The groups of a key of one text column, each text at most 12 bytes.
struct ShortGroups {
    /// Each row's group, groups numbered in key order.
    ranks: Vec<IdxSize>,
    /// Each group's text, in key order: built from the views, where a
    /// gather of a row of each group from the column's many chunks (its
    /// rows found chunk by chunk) took 0.06 s of one core at 10M events.
    keys: StringChunked,
}

/// Groups the rows of a text key whose texts are all at most 12 bytes
/// long, or `None` for any other column. Such a text is held whole in its
/// 16-byte view (length, then bytes): the views are hashed and compared as
/// integers, where grouping by the texts hashes and compares bytes (key
/// comparisons were a tenth of a 10M-event run's samples). The rows are
/// split in one piece per thread, each grouped alone, and the pieces'
/// groups merged.
fn short_text_groups(key: &Column) -> Option<ShortGroups> {
    use rayon::prelude::*;
    let text = key.str().ok()?;
    if text.null_count() > 0 {
        return None;
    }
    let arrays: Vec<_> = text.downcast_iter().collect();
    if arrays
        .iter()
        .any(|a| a.views().iter().any(|v| v.length > 12))
    {
        return None;
    }
    // A view's length and bytes, what follows them cleared.
    let whole = |v: u128| {
        let len = v as u32;
        if len >= 12 {
            v
        } else {
            v & ((1u128 << (8 * (4 + len))) - 1)
        }
    };
    // Bytes first (most significant first), then the length: ordered as
    // the texts are (a prefix before the longer text).
    let order_key = |v: u128| (v >> 32).swap_bytes() | (v & 0xffff_ffff);
    let n = text.len();
    let per_piece = n.div_ceil(rayon::current_num_threads().max(1)).max(1);
    let mut pieces: Vec<(usize, Vec<_>)> = Vec::new();
    let mut at = 0;
    for a in &arrays {
        match pieces.last_mut() {
            Some((first, piece)) if at - *first < per_piece => piece.push(*a),
            _ => pieces.push((at, vec![*a])),
        }
        at += a.len();
    }
    // Each piece's distinct views in order of appearance, and each row's
    // number among them.
    let local: Vec<(Vec<u128>, Vec<u32>)> = pieces
        .par_iter()
        .map(|(_, piece)| {
            let mut numbers = ViewNumbers::default();
            let mut rows = Vec::with_capacity(piece.iter().map(|a| a.len()).sum());
            for a in piece {
                for v in a.views().iter() {
                    rows.push(numbers.number(whole(v.as_u128())));
                }
            }
            (numbers.views, rows)
        })
        .collect();
    let mut numbers = ViewNumbers::default();
    let merged: Vec<Vec<u32>> = local
        .iter()
        .map(|(piece_views, _)| piece_views.iter().map(|&v| numbers.number(v)).collect())
        .collect();
    let views = numbers.views;
    let mut order: Vec<u32> = (0..views.len() as u32).collect();
    order.par_sort_unstable_by_key(|&g| order_key(views[g as usize]));
    let mut rank = vec![0 as IdxSize; views.len()];
    for (r, &g) in order.iter().enumerate() {
        rank[g as usize] = r as IdxSize;
    }
    let mut keys = StringChunkedBuilder::new(text.name().clone(), order.len());
    for &g in &order {
        // A view of a text of at most 12 bytes: its length, then its bytes.
        let view = views[g as usize].to_le_bytes();
        let len = u32::from_le_bytes([view[0], view[1], view[2], view[3]]) as usize;
        keys.append_value(std::str::from_utf8(&view[4..4 + len]).ok()?);
    }
    let keys = keys.finish();
    let mut ranks = vec![0 as IdxSize; n];
    let piece_starts: Vec<usize> = pieces
        .iter()
        .map(|(first, _)| *first)
        .chain(std::iter::once(n))
        .collect();
    group_ranges(&mut ranks, &piece_starts)
        .into_par_iter()
        .zip(local.par_iter().zip(&merged))
        .for_each(|(slice, ((_, rows), merged))| {
            for (out, &number) in slice.iter_mut().zip(rows) {
                *out = rank[merged[number as usize] as usize];
            }
        });
    Some(ShortGroups { ranks, keys })
}

/// A counting sort of the rows with a time on their group's rank: the
/// rows of each group, in row order, their times beside them, and where
/// each group starts (then the number of rows).
///
/// On every core, in two steps. Each piece of the rows counts its rows per
/// group; the groups are cut into buckets of consecutive groups (about as
/// many rows in each). First each piece writes its rows and their times,
/// in row order, into its own part of each bucket's range of the output;
/// then each bucket is placed by group within its range, through a scratch
/// the size of the bucket. Both steps read the rows in order and write
/// within small ranges; a group's times then need no lookup to be sorted,
/// and none at all when they come in order. (10M events: 0.14 s, where one
/// core placing the rows, then each group's times looked up to sort them,
/// took 0.24 s; placing straight into the output from every core, reading
/// each row's group and time out of order, 0.17 s.)
fn place_by_rank(
    ranks: &[IdxSize],
    groups: usize,
    times: &ChunkedTimes,
    is_timed: &(impl Fn(usize) -> bool + Sync),
) -> (Vec<IdxSize>, Vec<i64>, Vec<usize>) {
    use rayon::prelude::*;
    let threads = rayon::current_num_threads().max(1);
    let n = ranks.len();
    let pieces = spans(n, n.div_ceil(threads).max(1));
    let counts: Vec<Vec<u32>> = pieces
        .par_iter()
        .map(|piece| {
            let mut count = vec![0u32; groups];
            for r in piece.clone().filter(|&r| is_timed(r)) {
                count[ranks[r] as usize] += 1;
            }
            count
        })
        .collect();
    let mut offsets = Vec::with_capacity(groups + 1);
    offsets.push(0usize);
    for g in 0..groups {
        let rows: usize = counts.iter().map(|c| c[g] as usize).sum();
        offsets.push(offsets[g] + rows);
    }
    let total = offsets[groups];
    // Bucket `b` holds groups `bounds[b]..bounds[b + 1]`.
    let wanted = (threads * 8).clamp(1, u16::MAX.into()).min(groups.max(1));
    let mut bounds = vec![0usize];
    for b in 1..wanted {
        let g = offsets
            .partition_point(|&o| o < total * b / wanted)
            .min(groups);
        if g > bounds[bounds.len() - 1] {
            bounds.push(g);
        }
    }
    bounds.push(groups);
    let buckets = bounds.len() - 1;
    let mut bucket_of = vec![0u16; groups];
    for b in 0..buckets {
        bucket_of[bounds[b]..bounds[b + 1]].fill(b as u16);
    }
    let starts: Vec<usize> = bounds.iter().map(|&g| offsets[g]).collect();
    let mut rows = vec![0 as IdxSize; total];
    let mut sorted_times = vec![0i64; total];
    // Each piece's part of each bucket's range: [piece][bucket].
    fn parts<'a, T>(
        output: &'a mut [T],
        starts: &[usize],
        counts: &[Vec<u32>],
        bounds: &[usize],
    ) -> Vec<Vec<&'a mut [T]>> {
        let mut parts: Vec<Vec<&mut [T]>> = counts.iter().map(|_| Vec::new()).collect();
        for (b, mut range) in group_ranges(output, starts).into_iter().enumerate() {
            for (piece, count) in counts.iter().enumerate() {
                let len = count[bounds[b]..bounds[b + 1]]
                    .iter()
                    .map(|&c| c as usize)
                    .sum();
                let (part, rest) = std::mem::take(&mut range).split_at_mut(len);
                parts[piece].push(part);
                range = rest;
            }
        }
        parts
    }
    let row_parts = parts(&mut rows, &starts, &counts, &bounds);
    let time_parts = parts(&mut sorted_times, &starts, &counts, &bounds);
    drop(counts);
    pieces
        .into_par_iter()
        .zip(row_parts)
        .zip(time_parts)
        .for_each(|((piece, mut row_part), mut time_part)| {
            let mut filled = vec![0usize; buckets];
            for r in piece.filter(|&r| is_timed(r)) {
                let b = bucket_of[ranks[r] as usize] as usize;
                row_part[b][filled[b]] = r as IdxSize;
                time_part[b][filled[b]] = times.at(r);
                filled[b] += 1;
            }
        });
    // One scratch per core, reused from bucket to bucket.
    let longest = starts.windows(2).map(|s| s[1] - s[0]).max().unwrap_or(0);
    let mut batches: Vec<Vec<_>> = (0..threads).map(|_| Vec::new()).collect();
    let bucket_ranges = group_ranges(&mut rows, &starts)
        .into_iter()
        .zip(group_ranges(&mut sorted_times, &starts));
    for (b, bucket) in bucket_ranges.enumerate() {
        batches[b * threads / buckets].push((b, bucket));
    }
    batches.into_par_iter().for_each(|batch| {
        let mut scratch: Vec<(i64, IdxSize)> = Vec::with_capacity(longest);
        for (b, (rows, range_times)) in batch {
            let (first, start) = (bounds[b], starts[b]);
            let mut next: Vec<usize> = offsets[first..bounds[b + 1]]
                .iter()
                .map(|o| o - start)
                .collect();
            scratch.clear();
            scratch.resize(rows.len(), (0, 0));
            for (&r, &time) in rows.iter().zip(range_times.iter()) {
                let at = &mut next[ranks[r as usize] as usize - first];
                scratch[*at] = (time, r);
                *at += 1;
            }
            for ((row, t), &(time, r)) in rows
                .iter_mut()
                .zip(range_times.iter_mut())
                .zip(scratch.iter())
            {
                (*row, *t) = (r, time);
            }
        }
    });
    (rows, sorted_times, offsets)
}

/// Event times where the reader left them, in its chunks (a copy into one
/// would be 8 bytes per event more at the sort's peak).
struct ChunkedTimes<'a> {
    chunks: Vec<&'a [i64]>,
    /// The first row of each chunk, then the number of rows.
    starts: Vec<usize>,
    /// The chunk of row `i << BLOCK`: a row's chunk is then a step or two
    /// away, whatever the number of chunks.
    blocks: Vec<u32>,
}

impl<'a> ChunkedTimes<'a> {
    const BLOCK: u32 = 12;

    fn new(chunks: impl Iterator<Item = &'a [i64]>) -> Self {
        let chunks: Vec<&[i64]> = chunks.filter(|c| !c.is_empty()).collect();
        let mut starts = Vec::with_capacity(chunks.len() + 1);
        starts.push(0usize);
        for c in &chunks {
            starts.push(starts[starts.len() - 1] + c.len());
        }
        let rows = starts[starts.len() - 1];
        let mut blocks = Vec::with_capacity((rows >> Self::BLOCK) + 1);
        let mut c = 0;
        for first in (0..rows).step_by(1 << Self::BLOCK) {
            while starts[c + 1] <= first {
                c += 1;
            }
            blocks.push(c as u32);
        }
        ChunkedTimes {
            chunks,
            starts,
            blocks,
        }
    }

    fn at(&self, row: usize) -> i64 {
        let mut c = self.blocks[row >> Self::BLOCK] as usize;
        while self.starts[c + 1] <= row {
            c += 1;
        }
        self.chunks[c][row - self.starts[c]]
    }
}

/// `0..n` cut into consecutive ranges of `size` (the last one shorter).
fn spans(n: usize, size: usize) -> Vec<std::ops::Range<usize>> {
    (0..n).step_by(size).map(|s| s..(s + size).min(n)).collect()
}

/// Splits `rows` at `offsets` (each range's start, then the length):
/// one range each, to be written in parallel.
fn group_ranges<'a, T>(mut rest: &'a mut [T], offsets: &[usize]) -> Vec<&'a mut [T]> {
    let mut ranges = Vec::with_capacity(offsets.len().saturating_sub(1));
    for bounds in offsets.windows(2) {
        let (range, tail) = std::mem::take(&mut rest).split_at_mut(bounds[1] - bounds[0]);
        ranges.push(range);
        rest = tail;
    }
    debug_assert!(rest.is_empty(), "the groups cover every row");
    ranges
}

/// Writes the rows with a time of each group, `order` ranking the groups,
/// at the group's `offsets`, in row order, and their times beside them: the
/// groups in parallel, each owning its range of `rows` and of the times.
fn place_groups(
    (rows, sorted_times): (&mut [IdxSize], &mut [i64]),
    offsets: &[usize],
    order: &[IdxSize],
    groups: &GroupsType,
    times: &ChunkedTimes,
    timed: Option<&[bool]>,
) {
    use rayon::prelude::*;
    let is_timed = |r: &IdxSize| timed.is_none_or(|t| t[*r as usize]);
    group_ranges(rows, offsets)
        .into_par_iter()
        .zip(group_ranges(sorted_times, offsets))
        .zip(order)
        .with_min_len(256)
        .for_each(|((range, range_times), &g)| {
            let mut place = |group: &mut dyn Iterator<Item = IdxSize>| {
                for ((at, t), row) in range.iter_mut().zip(range_times.iter_mut()).zip(group) {
                    (*at, *t) = (row, times.at(row as usize));
                }
            };
            match groups.get(g as usize) {
                GroupsIndicator::Idx((_, group)) => {
                    place(&mut group.iter().copied().filter(is_timed))
                }
                GroupsIndicator::Slice([first, len]) => {
                    place(&mut (first..first + len).filter(is_timed))
                }
            }
        });
}

/// Sorts the rows of each group (at `offsets`), their times beside them,
/// by time, in row order at equal times: the groups in parallel. A group
/// already in that order (events exported in time order) is only read.
fn sort_groups_by_time(rows: &mut [IdxSize], sorted_times: &mut [i64], offsets: &[usize]) {
    use rayon::prelude::*;
    group_ranges(rows, offsets)
        .into_par_iter()
        .zip(group_ranges(sorted_times, offsets))
        .with_min_len(256)
        .for_each_init(
            Vec::new,
            |pairs: &mut Vec<(i64, IdxSize)>, (range, range_times)| {
                let in_order = range_times
                    .windows(2)
                    .zip(range.windows(2))
                    .all(|(t, r)| (t[0], r[0]) <= (t[1], r[1]));
                if in_order {
                    return;
                }
                pairs.clear();
                pairs.extend(range_times.iter().copied().zip(range.iter().copied()));
                pairs.sort_unstable();
                for ((row, t), &(time, r)) in range
                    .iter_mut()
                    .zip(range_times.iter_mut())
                    .zip(pairs.iter())
                {
                    (*row, *t) = (r, time);
                }
            },
        );
}

/// A time column's microseconds, in row order; every row has a time.
fn event_times(frame: &DataFrame, column: &str) -> Result<Vec<i64>> {
    let times = frame
        .column(column)
        .ctx(|| "event time".into())?
        .datetime()
        .ctx(|| "event time".into())?
        .physical();
    if times.null_count() > 0 {
        return Err(Error::Invalid(format!(
            "column `{column}`: {} row(s) have no time",
            times.null_count()
        )));
    }
    Ok(times.into_no_null_iter().collect())
}

/// Whether every aggregation of an input column is a count.
fn only_counted(spec: &FeatureSetSpec, input: &Input) -> bool {
    spec.outputs
        .iter()
        .filter(|o| input_of(spec, o) == *input)
        .all(|o| o.aggregation == Aggregation::Count)
}

/// The rows of a kernel result: the key columns (taken from `group_keys`;
/// left out without them), the time, and the outputs, filled.
#[allow(clippy::too_many_arguments)]
fn output_frame(
    spec: &FeatureSetSpec,
    df: &DataFrame,
    group_keys: Option<&DataFrame>,
    input: &KernelInput,
    result: kernel::KernelResult,
    mode: Mode,
    inputs: &[Input],
    ids: &Ids,
) -> Result<DataFrame> {
    let rows = result.at.len();
    let mut columns: Vec<Column> = match group_keys {
        Some(keys) => {
            let idx: IdxCa = result
                .group
                .iter()
                .map(|&g| g as IdxSize)
                .collect_ca("idx".into());
            // Column by column on this thread: a frame's gather fans out
            // to polars' pool, and this runs on a worker of the global one.
            keys.columns()
                .iter()
                .map(|c| c.take(&idx))
                .collect::<PolarsResult<Vec<Column>>>()
                .ctx(|| "key columns".into())?
        }
        None => Vec::new(),
    };
    let ts: Vec<i64> = match mode {
        Mode::Sliding { slide, .. } => result.at.iter().map(|r| r * slide).collect(),
        Mode::Exact { .. } => result.at,
    };
    columns.push(
        Int64Chunked::from_vec(TIMESTAMP_COLUMN.into(), ts)
            .into_datetime(TimeUnit::Microseconds, None)
            .into_column(),
    );
    // Outputs whose fill is still to apply (the ones not typed directly).
    let mut to_fill = Vec::new();
    for (o, cells) in spec.outputs.iter().zip(result.cells) {
        let target = polars_dtype(o.dtype);
        let by_value = o.aggregation.returns_a_value() && by_id(o.aggregation);
        let as_set = o.aggregation.returns_a_set();
        let cells = if !(by_value || as_set) {
            match typed_cells(o.name, cells, &target, spec.fill_of(o)) {
                Ok(column) => {
                    columns.push(column);
                    continue;
                }
                Err(cells) => cells,
            }
        } else {
            cells
        };
        to_fill.push(o);
        let series = if by_value {
            value_series(spec, df, o, cells, inputs, ids)?
        } else if as_set {
            set_series(spec, df, input, o, cells, inputs, ids)?
        } else {
            cells_to_series(o.name, cells)
        };
        let cast = series.strict_cast(&target).map_err(|e| {
            data_error(
                spec,
                format!(
                    "`{}` does not fit its declared type {}: {e}",
                    o.name, o.dtype
                ),
            )
        })?;
        columns.push(cast.into_column());
    }
    let frame = DataFrame::new(rows, columns).ctx(|| "output frame".into())?;
    // Filled after the change-point dedup, as the declaration says.
    let filled = fills(spec, to_fill.into_iter());
    if filled.is_empty() {
        return Ok(frame);
    }
    frame
        .lazy()
        .with_columns(filled)
        .collect()
        .ctx(|| "fill_null".into())
}

/// Each output column with a fill value (its feature's, or the feature
/// set's), its nulls replaced.
fn filled_columns(spec: &FeatureSetSpec) -> Vec<Expr> {
    fills(spec, spec.outputs.iter())
}

/// [`filled_columns`] of some of the outputs.
fn fills<'a>(
    spec: &FeatureSetSpec,
    outputs: impl Iterator<Item = &'a crate::spec::OutputColumn>,
) -> Vec<Expr> {
    outputs
        .filter_map(|o| {
            let fill = spec.fill_of(o)?;
            Some(
                col(o.name)
                    .fill_null(fill_literal(fill))
                    .strict_cast(polars_dtype(o.dtype)),
            )
        })
        .collect()
}

/// The values whose ids a function returned, taken from the input column.
fn value_series(
    spec: &FeatureSetSpec,
    df: &DataFrame,
    o: &crate::spec::OutputColumn,
    cells: Vec<Cell>,
    inputs: &[Input],
    ids: &Ids,
) -> Result<Series> {
    let column = spec.features[o.feature].column;
    let input = input_index(spec, inputs, o);
    let encoded = ids.get(&input).expect("value functions read ids");
    let rows: IdxCa = cells
        .into_iter()
        .map(|c| match c {
            Cell::Int(id) => Some(encoded.rows[id as usize]),
            _ => None,
        })
        .collect_ca(o.name.into());
    let values = df
        .column(&format!("__fs_in{input}"))
        .ctx(|| format!("column `{column}`"))?
        .take(&rows)
        .ctx(|| format!("column `{column}`"))?;
    Ok(values
        .as_materialized_series()
        .clone()
        .with_name(o.name.into()))
}

/// The lists of values whose numbers `most_frequent_set`, `collect_list`
/// or `collect_set` returned.
fn set_series(
    spec: &FeatureSetSpec,
    df: &DataFrame,
    kernel_input: &KernelInput,
    o: &crate::spec::OutputColumn,
    cells: Vec<Cell>,
    inputs: &[Input],
    ids: &Ids,
) -> Result<Series> {
    let column = spec.features[o.feature].column;
    let input = input_index(spec, inputs, o);
    let encoded = ids.get(&input).expect("list functions read ids");
    let Values::Ids { sets, .. } = &kernel_input.columns[encoded.column] else {
        unreachable!("an id column holds ids");
    };
    let lists = sets.lists();
    let values = df
        .column(&format!("__fs_in{input}"))
        .ctx(|| format!("column `{column}`"))?
        .as_materialized_series()
        .clone();
    let mut out: Vec<Option<Series>> = Vec::with_capacity(cells.len());
    for cell in cells {
        out.push(match cell {
            Cell::Int(n) => {
                let rows: IdxCa = lists[n as usize]
                    .iter()
                    .map(|&id| encoded.rows[id as usize])
                    .collect_ca("".into());
                Some(values.take(&rows).ctx(|| format!("column `{column}`"))?)
            }
            _ => None,
        });
    }
    let mut list: ListChunked = out.into_iter().collect();
    list.rename(o.name.into());
    let target = polars_dtype(o.dtype);
    // An all-null column has no element type yet.
    list.into_series()
        .cast(&target)
        .ctx(|| format!("column `{}`", o.name))
}

/// The cells of a numeric output as a column of its declared type, its
/// nulls filled with `fill`, in one pass; the cells back when the output is
/// not that simple (then [`cells_to_series`], a cast and the fill, whose
/// error names a value that does not fit). The general way made a column of
/// 64-bit options, cast it, and filled it in a query of its own: about 0.3 s
/// of thread time for a 10M-event feature set's rows, against 0.11-0.21 s.
fn typed_cells(
    name: &str,
    cells: Vec<Cell>,
    target: &DataType,
    fill: Option<crate::spec::FillValue>,
) -> std::result::Result<Column, Vec<Cell>> {
    use crate::spec::FillValue;
    fn ints<T: PolarsNumericType>(name: &str, cells: &[Cell], fill: Option<i64>) -> Option<Column>
    where
        T::Native: TryFrom<i64>,
    {
        let fit = |v: i64| T::Native::try_from(v).ok();
        let fill = match fill {
            Some(f) => Some(fit(f)?),
            None => None,
        };
        let column = match fill {
            Some(fill) => {
                let mut values = Vec::with_capacity(cells.len());
                for c in cells {
                    values.push(match c {
                        Cell::Int(v) => fit(*v)?,
                        Cell::Null => fill,
                        Cell::Float(_) => return None,
                    });
                }
                ChunkedArray::<T>::from_vec(name.into(), values).into_column()
            }
            None => {
                let mut values = Vec::with_capacity(cells.len());
                for c in cells {
                    values.push(match c {
                        Cell::Int(v) => Some(fit(*v)?),
                        Cell::Null => None,
                        Cell::Float(_) => return None,
                    });
                }
                ChunkedArray::<T>::from_iter_options(name.into(), values.into_iter()).into_column()
            }
        };
        Some(column)
    }
    let int_fill = match fill {
        None => None,
        Some(FillValue::Int(i)) => Some(i),
        // Other fills (and their casts) go the general way.
        Some(_) => return Err(cells),
    };
    let column = match target {
        DataType::Int32 => ints::<Int32Type>(name, &cells, int_fill),
        DataType::Int64 => ints::<Int64Type>(name, &cells, int_fill),
        _ => None,
    };
    column.ok_or(cells)
}

fn cells_to_series(name: &str, cells: Vec<Cell>) -> Series {
    let floats = cells.iter().any(|c| matches!(c, Cell::Float(_)));
    if floats {
        cells
            .into_iter()
            .map(|c| match c {
                Cell::Null => None,
                Cell::Int(i) => Some(i as f64),
                Cell::Float(f) => Some(f),
            })
            .collect::<Float64Chunked>()
            .with_name(name.into())
            .into_series()
    } else {
        cells
            .into_iter()
            .map(|c| match c {
                Cell::Int(i) => Some(i),
                _ => None,
            })
            .collect::<Int64Chunked>()
            .with_name(name.into())
            .into_series()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts of every length up to 12 bytes, prefixes of each other, a NUL
    /// byte, multi-byte characters and repeats, in several chunks.
    fn texts() -> Vec<&'static str> {
        vec![
            "b",
            "a",
            "",
            "ab",
            "a\0",
            "a",
            "abcdefghijkl",
            "abcdefghijk",
            "é",
            "z",
            "ab",
            "",
            "abcdefghijkl",
            "e\u{301}",
            "ä",
            "b",
            "zz",
            "a\0",
        ]
    }

    fn chunked(texts: &[&str]) -> Column {
        let mut column = StringChunked::new("k".into(), &texts[..5]);
        column
            .append(&StringChunked::new("k".into(), &texts[5..11]))
            .unwrap();
        column
            .append(&StringChunked::new("k".into(), &texts[11..]))
            .unwrap();
        assert_eq!(column.chunks().len(), 3);
        column.into_column()
    }

    /// The general way of an output's cells: a column of 64-bit values,
    /// cast to the declared type, then filled.
    fn cells_the_general_way(cells: Vec<Cell>, target: &DataType, fill: Option<i64>) -> Series {
        let series = cells_to_series("c", cells).strict_cast(target).unwrap();
        match fill {
            Some(f) => DataFrame::new(series.len(), vec![series.into_column()])
                .unwrap()
                .lazy()
                .select([col("c").fill_null(lit(f)).strict_cast(target.clone())])
                .collect()
                .unwrap()
                .column("c")
                .unwrap()
                .as_materialized_series()
                .clone(),
            None => series,
        }
    }

    #[test]
    fn cells_typed_directly_equal_the_general_way() {
        use crate::spec::FillValue;
        let cells = vec![Cell::Int(3), Cell::Null, Cell::Int(-7), Cell::Int(0)];
        for target in [DataType::Int32, DataType::Int64] {
            for fill in [None, Some(0), Some(-1)] {
                let typed = typed_cells("c", cells.clone(), &target, fill.map(FillValue::Int))
                    .unwrap_or_else(|_| panic!("{target} cells fit"));
                let want = cells_the_general_way(cells.clone(), &target, fill);
                assert_eq!(typed.dtype(), &target);
                assert!(
                    typed.as_materialized_series().equals_missing(&want),
                    "{target}, fill {fill:?}: {typed:?} against {want:?}"
                );
            }
        }
    }

    #[test]
    fn cells_that_do_not_fit_go_the_general_way() {
        use crate::spec::FillValue;
        let big = vec![Cell::Int(1), Cell::Int(i64::from(i32::MAX) + 1)];
        assert!(typed_cells("c", big.clone(), &DataType::Int32, None).is_err());
        assert!(typed_cells("c", big, &DataType::Int64, None).is_ok());
        // A fill that does not fit the type, a float cell, a float fill and
        // a type not handled: the cells come back as they were.
        let cells = vec![Cell::Int(1), Cell::Null];
        let fill = Some(FillValue::Int(i64::MAX));
        assert!(typed_cells("c", cells.clone(), &DataType::Int32, fill).is_err());
        let floats = vec![Cell::Int(1), Cell::Float(0.5)];
        let back = typed_cells("c", floats.clone(), &DataType::Int64, None).unwrap_err();
        assert_eq!(back, floats);
        let fill = Some(FillValue::Float(0.0));
        assert!(typed_cells("c", cells.clone(), &DataType::Int64, fill).is_err());
        assert!(typed_cells("c", cells, &DataType::Float64, None).is_err());
    }

    #[test]
    fn short_texts_are_grouped_and_ranked_in_byte_order() {
        let texts = texts();
        let groups = short_text_groups(&chunked(&texts)).expect("every text is short");
        // Expected from the texts themselves: their distinct values sorted.
        let mut distinct = texts.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let rank_of = |t: &str| distinct.iter().position(|d| *d == t).unwrap() as IdxSize;
        let expected: Vec<IdxSize> = texts.iter().map(|t| rank_of(t)).collect();
        assert_eq!(groups.ranks, expected);
        let keys: Vec<&str> = groups.keys.iter().map(|k| k.unwrap()).collect();
        assert_eq!(keys, distinct);
    }

    #[test]
    fn many_short_texts_are_grouped_and_ranked_in_byte_order() {
        // Thousands of distinct texts of every length a view holds, each
        // seen several times, in several chunks: the groups' table grows
        // many times while rows are numbered.
        let distinct: Vec<String> = (0..3000u64)
            .map(|i| {
                let digits = format!("{:012}", i.wrapping_mul(2_654_435_761) % 1_000_000_007);
                digits[..(i % 13) as usize].to_string()
            })
            .collect();
        let texts: Vec<&str> = (0..20_000u64)
            .map(|r| distinct[(r.wrapping_mul(7919) % 3000) as usize].as_str())
            .collect();
        // Chunks of 7,000, 6,000 and 7,000 rows: on two threads or more,
        // two pieces or more, each numbering its own texts before they are
        // merged; on one thread, one piece. The pools are the test's own,
        // so the merge is covered whatever the machine's cores.
        let mut column = StringChunked::new("k".into(), &texts[..7000]);
        for part in [&texts[7000..13_000], &texts[13_000..]] {
            column
                .append(&StringChunked::new("k".into(), part))
                .unwrap();
        }
        let column = column.into_column();
        let mut sorted = texts.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let expected: Vec<IdxSize> = texts
            .iter()
            .map(|t| sorted.binary_search(t).unwrap() as IdxSize)
            .collect();
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let groups = pool
                .install(|| short_text_groups(&column))
                .expect("every text is short");
            assert_eq!(groups.ranks, expected, "{threads} threads");
            let keys: Vec<&str> = groups.keys.iter().map(|k| k.unwrap()).collect();
            assert_eq!(keys, sorted, "{threads} threads");
        }
    }

    #[test]
    fn a_text_longer_than_a_view_holds_is_grouped_by_polars() {
        let mut texts = texts();
        texts.push("abcdefghijklm");
        assert!(short_text_groups(&chunked(&texts)).is_none());
        let with_null = Series::new("k".into(), [Some("a"), None]).into_column();
        assert!(short_text_groups(&with_null).is_none());
        let numbers = Series::new("k".into(), [1i64, 2]).into_column();
        assert!(short_text_groups(&numbers).is_none());
    }

    /// Sorts events keyed by `texts` and checks them against a sort of
    /// (key, time, row) tuples.
    fn check_sorted(texts: &[&str], keys: Column) {
        let n = texts.len() as i64;
        // Times repeat so that ties keep the input order; row 3 has none.
        let times: Vec<Option<i64>> = (0..n).map(|i| (i != 3).then_some((i * 7) % 5)).collect();
        check_sorted_at(texts, keys, &times);
    }

    fn check_sorted_at(texts: &[&str], keys: Column, times: &[Option<i64>]) {
        let n = texts.len() as i64;
        let rows: Vec<i64> = (0..n).collect();
        let df = DataFrame::new(
            texts.len(),
            vec![
                keys,
                Series::new(TS.into(), times)
                    .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
                    .unwrap()
                    .into_column(),
                Series::new("row".into(), &rows).into_column(),
            ],
        )
        .unwrap();
        let sorted = sort_events(df, &["k"]).unwrap();
        let mut expected: Vec<(&str, i64, i64)> = (0..texts.len())
            .filter_map(|i| Some((texts[i], times[i]?, i as i64)))
            .collect();
        expected.sort();
        let got_rows: Vec<i64> = sorted
            .events
            .column("row")
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(got_rows, expected.iter().map(|e| e.2).collect::<Vec<_>>());
        assert_eq!(
            sorted.times,
            expected.iter().map(|e| e.1).collect::<Vec<_>>()
        );
        let keys: Vec<&str> = sorted
            .keys
            .column("k")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|k| k.unwrap())
            .collect();
        let mut distinct = texts.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(keys, distinct, "every key has a group, an untimed one too");
        for (g, key) in keys.iter().enumerate() {
            let events: Vec<&str> = expected[sorted.offsets[g]..sorted.offsets[g + 1]]
                .iter()
                .map(|e| e.0)
                .collect();
            assert!(
                events.iter().all(|e| e == key),
                "group {g} ({key:?}): {events:?}"
            );
        }
    }

    #[test]
    fn events_are_sorted_by_key_then_time_then_row_without_the_untimed() {
        let short = texts();
        check_sorted(&short, chunked(&short));
        // One key longer than 12 bytes: grouped by polars.
        let mut long = texts();
        long.push("abcdefghijklm");
        check_sorted(&long, chunked(&long));
    }

    #[test]
    fn many_events_are_sorted_by_key_then_time_then_row() {
        // Enough keys and rows for every core's piece and many buckets:
        // 3,000 keys over 40,000 events in 4 chunks; the first half in
        // time order (each group then already sorted), the second half
        // shuffled with ties; one event in 97 without a time.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            state >> 33
        };
        let n = 40_000;
        let owned: Vec<String> = (0..n).map(|_| format!("k{}", next() % 3_000)).collect();
        let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
        let times: Vec<Option<i64>> = (0..n as u64)
            .map(|i| {
                let t = if i < n as u64 / 2 { i } else { next() % 500 };
                (next() % 97 != 0).then_some(t as i64)
            })
            .collect();
        let keys = |texts: &[&str]| {
            let mut column = StringChunked::new("k".into(), &texts[..10_000]);
            for piece in texts[10_000..].chunks(10_000) {
                column
                    .append(&StringChunked::new("k".into(), piece))
                    .unwrap();
            }
            column.into_column()
        };
        check_sorted_at(&texts, keys(&texts), &times);
        // The same through polars' grouping (one key too long for a view).
        let mut long = texts.clone();
        long[7] = "a key longer than twelve bytes";
        check_sorted_at(&long, keys(&long), &times);
    }
}
