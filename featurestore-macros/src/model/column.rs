//! A source column's `#[column(...)]`, validated: how its times are
//! written, or how it is computed from other columns.

use std::fmt::Write as _;

use chrono::format::{Item, StrftimeItems};
use featurestore_core::EpochUnit;
use syn::{Attribute, Ident, LitStr};

use crate::attr::{column_attr, ColumnAttr, RawDerived};
use crate::ctxt::Errors;
use crate::symbol;

/// A validated derived column: its inputs are named, not yet resolved
/// against the struct's fields (see [`check`]).
pub enum Derived {
    H3 {
        lat: Ident,
        lng: Ident,
        resolutions: Vec<u8>,
    },
    Stack {
        columns: Vec<Ident>,
    },
}

impl Derived {
    /// The columns it reads.
    pub fn inputs(&self) -> Vec<&Ident> {
        match self {
            Derived::H3 { lat, lng, .. } => vec![lat, lng],
            Derived::Stack { columns } => columns.iter().collect(),
        }
    }

    /// In words, for docs.
    pub fn describe(&self) -> String {
        match self {
            Derived::H3 {
                lat,
                lng,
                resolutions,
            } => {
                let res: Vec<String> = resolutions.iter().map(u8::to_string).collect();
                format!(
                    "computed: the H3 cell (hexadecimal id) of `{lat}`, `{lng}` at resolution{} {}; \
                     one row per resolution for each row read",
                    if res.len() == 1 { "" } else { "s" },
                    res.join(", ")
                )
            }
            Derived::Stack { columns } => {
                let cols: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
                format!(
                    "computed: the values of {} stacked, one row per column for each row read",
                    cols.join(", ")
                )
            }
        }
    }
}

/// Validates the values of a derived column on its own.
pub fn validate(raw: &RawDerived, errors: &mut Errors) -> Option<Derived> {
    match raw {
        RawDerived::H3 {
            lat,
            lng,
            resolutions,
            ..
        } => {
            // Invalid or missing resolutions are reported already; the
            // columns are still checked, so both mistakes show at once.
            let resolutions = resolutions
                .as_ref()
                .and_then(|r| parse_resolutions(r, errors))
                .unwrap_or_default();
            Some(Derived::H3 {
                lat: lat.clone()?,
                lng: lng.clone()?,
                resolutions,
            })
        }
        RawDerived::Stack { columns, .. } if !columns.is_empty() => Some(Derived::Stack {
            columns: columns.clone(),
        }),
        RawDerived::Stack { .. } => None,
    }
}

/// `"6..=12"` or `"7, 9"`: resolutions 0 to 15, each once.
fn parse_resolutions(lit: &LitStr, errors: &mut Errors) -> Option<Vec<u8>> {
    let text = lit.value();
    let number = |s: &str| -> Option<u8> { s.trim().parse::<u8>().ok().filter(|r| *r <= 15) };
    let bad = |why: &str| {
        format!("{why} in `resolutions = \"{text}\"`: H3 resolutions are 0 to 15, as a range `\"6..=12\"` or a list `\"7, 9\"`")
    };
    let out: Vec<u8> = if let Some((a, b)) = text.split_once("..=") {
        let (Some(a), Some(b)) = (number(a), number(b)) else {
            errors.at(lit.span(), bad("a bound is not a resolution"));
            return None;
        };
        if a > b {
            errors.at(lit.span(), bad("an empty range"));
            return None;
        }
        (a..=b).collect()
    } else if text.contains("..") {
        errors.at(
            lit.span(),
            format!(
                "write an inclusive range, `\"{}\"`: `..` alone would leave out the last \
                 resolution, which Butterfree includes",
                text.replacen("..", "..=", 1)
            ),
        );
        return None;
    } else {
        let mut out = Vec::new();
        for part in text.split(',') {
            let Some(r) = number(part) else {
                errors.at(
                    lit.span(),
                    bad(&format!("`{}` is not a resolution", part.trim())),
                );
                return None;
            };
            if out.contains(&r) {
                errors.at(lit.span(), bad(&format!("resolution {r} is listed twice")));
                return None;
            }
            out.push(r);
        }
        out
    };
    Some(out)
}

/// How a source column's times are written, validated.
pub enum TimeEncoding {
    /// `epoch = "ms"`.
    Epoch(EpochUnit),
    /// `format = "..."`, a valid chrono format naming at least a date.
    Format(String),
}

impl TimeEncoding {
    /// In words, for docs.
    pub fn describe(&self) -> String {
        match self {
            TimeEncoding::Epoch(unit) => format!(
                "{} since 1970-01-01 00:00:00 UTC, read as a UTC timestamp",
                unit.word()
            ),
            TimeEncoding::Format(mask) => {
                format!("text in the format `{mask}`, read as a UTC timestamp")
            }
        }
    }
}

/// The validated encoding of a `#[column(...)]`, if it declares one.
pub fn time_encoding(attr: &ColumnAttr, errors: &mut Errors) -> Option<TimeEncoding> {
    if let (Some(_), Some(time)) = (&attr.derived, attr.epoch.as_ref().or(attr.format.as_ref())) {
        errors.at(
            time.span(),
            "a computed column (`h3`, `stack`) is not read, so it has no `epoch` or `format`",
        );
        return None;
    }
    match (&attr.epoch, &attr.format) {
        (Some(_), Some(format)) => {
            errors.at(
                format.span(),
                "`epoch` and `format` cannot both be set: a column holds either integer \
                 counts (`epoch`) or text (`format`)",
            );
            None
        }
        (Some(epoch), None) => {
            let unit = epoch.value();
            let Some(unit) = EpochUnit::from_name(&unit) else {
                let words: Vec<&str> = EpochUnit::ALL.iter().map(|u| u.word()).collect();
                errors.at(
                    epoch.span(),
                    format!(
                        "unknown epoch unit `{unit}`: the units are {} ({})",
                        symbol::list(EpochUnit::ALL.map(EpochUnit::name)),
                        words.join(", ")
                    ),
                );
                return None;
            };
            Some(TimeEncoding::Epoch(unit))
        }
        (None, Some(format)) => {
            let mask = format.value();
            match check_mask(&mask) {
                Ok(()) => Some(TimeEncoding::Format(mask)),
                Err(why) => {
                    errors.at(format.span(), why);
                    None
                }
            }
        }
        (None, None) => None,
    }
}

/// The encoding a field with errors in its `#[column(...)]` is taken to
/// have, so feature sets reading it as a time do not fail too.
pub fn fallback_encoding(attrs: &[Attribute]) -> Option<TimeEncoding> {
    let attr = column_attr(attrs, &mut Errors::new());
    match (&attr.epoch, &attr.format) {
        (Some(_), _) => Some(TimeEncoding::Epoch(EpochUnit::Millis)),
        (None, Some(_)) => Some(TimeEncoding::Format(String::new())),
        (None, None) => None,
    }
}

/// A mask is valid when chrono reads every item of it, and names a date:
/// a sample time written with it must parse back as a date or a time.
fn check_mask(mask: &str) -> Result<(), String> {
    if mask.trim().is_empty() {
        return Err("`format` is empty: give a chrono format, e.g. `\"%d/%m/%Y %H:%M\"`".into());
    }
    if StrftimeItems::new(mask).any(|item| matches!(item, Item::Error)) {
        return Err(format!(
            "invalid time format `{mask}`: chrono cannot read it; use `strftime` \
             specifiers such as `%Y`, `%m`, `%d`, `%H`, `%M`, `%S`, `%.f` (`%%` for `%`)"
        ));
    }
    let sample = chrono::NaiveDate::from_ymd_opt(2021, 11, 23)
        .and_then(|d| d.and_hms_micro_opt(13, 45, 30, 123_456));
    let mut written = String::new();
    let round_trips = sample.is_some_and(|sample| {
        write!(written, "{}", sample.format(mask)).is_ok()
            && (chrono::NaiveDateTime::parse_from_str(&written, mask).is_ok()
                || chrono::NaiveDate::parse_from_str(&written, mask).is_ok())
    });
    if round_trips {
        Ok(())
    } else {
        Err(format!(
            "the time format `{mask}` does not name a whole date: it needs a year, month \
             and day (e.g. `%Y`, `%m`, `%d`), or a timestamp such as `%s`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check_mask;

    #[test]
    fn masks() {
        assert!(check_mask("%d/%m/%Y %H:%M").is_ok());
        assert!(check_mask("%Y-%m-%d").is_ok());
        assert!(check_mask("%Y%m%dT%H%M%S%.f").is_ok());
        assert!(check_mask("%d/%m/%Y %Q").is_err());
        assert!(check_mask("%H:%M").is_err());
        assert!(check_mask("  ").is_err());
    }
}
