//! The `window = "3d,7d,30d"` and `slide = "1h"` mini-language: pure
//! parsers and checks, so they are unit tested without a compiler.

use std::fmt;

/// The unit of a window length (mirrors `spec::WindowUnit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Minutes,
    Hours,
    Days,
    Weeks,
}

impl Unit {
    fn from_suffix(suffix: &str) -> Option<Unit> {
        match suffix {
            "m" => Some(Unit::Minutes),
            "h" => Some(Unit::Hours),
            "d" => Some(Unit::Days),
            "w" => Some(Unit::Weeks),
            _ => None,
        }
    }

    pub fn micros(self) -> i64 {
        match self {
            Unit::Minutes => 60_000_000,
            Unit::Hours => 3_600_000_000,
            Unit::Days => 86_400_000_000,
            Unit::Weeks => 7 * 86_400_000_000,
        }
    }

    /// The unit as a word in output column names and docs.
    pub fn word(self, plural: bool) -> &'static str {
        match (self, plural) {
            (Unit::Minutes, false) => "minute",
            (Unit::Minutes, true) => "minutes",
            (Unit::Hours, false) => "hour",
            (Unit::Hours, true) => "hours",
            (Unit::Days, false) => "day",
            (Unit::Days, true) => "days",
            (Unit::Weeks, false) => "week",
            (Unit::Weeks, true) => "weeks",
        }
    }

    /// The unit as written: `m`, `h`, `d`, `w`.
    fn suffix(self) -> &'static str {
        match self {
            Unit::Minutes => "m",
            Unit::Hours => "h",
            Unit::Days => "d",
            Unit::Weeks => "w",
        }
    }

    /// The variant of `spec::WindowUnit`.
    pub fn variant(self) -> &'static str {
        match self {
            Unit::Minutes => "Minutes",
            Unit::Hours => "Hours",
            Unit::Days => "Days",
            Unit::Weeks => "Weeks",
        }
    }
}

/// A window length exactly as written: `7d` stays 7 days, `1w` stays 1 week.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub amount: u32,
    pub unit: Unit,
}

impl Window {
    /// `3_days`, `1_week`: the window's part of an output column name.
    pub fn name(self) -> String {
        format!("{}_{}", self.amount, self.unit.word(self.amount != 1))
    }

    fn micros(self) -> Option<i64> {
        i64::from(self.amount).checked_mul(self.unit.micros())
    }

    /// `7d`: the length as written in attributes.
    fn text(self) -> String {
        format!("{}{}", self.amount, self.unit.suffix())
    }

    /// Whether this is one day, the slide unless one is declared.
    pub fn is_day(self) -> bool {
        self.micros() == Some(Unit::Days.micros())
    }
}

impl fmt::Display for Window {
    /// `3 days`, `1 week`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.unit.word(self.amount != 1))
    }
}

const UNITS: &str = "`m` (minutes), `h` (hours), `d` (days) or `w` (weeks)";

/// Parses a comma-separated list of window lengths, e.g. `"3d, 7d, 30d"`.
///
/// Whether each suits the slide is [`check_slide`]'s to say. On error,
/// returns one message per problem, each quoting the offending piece.
pub fn parse(text: &str) -> Result<Vec<Window>, Vec<String>> {
    if text.trim().is_empty() {
        return Err(vec![
            "`window` is empty: list window lengths such as `window = \"3d,7d,30d\"`, \
             or remove `window` to aggregate per key and exact timestamp"
                .to_string(),
        ]);
    }
    let mut errors = Vec::new();
    let mut windows: Vec<(Window, &str, i64)> = Vec::new();
    for item in text.split(',').map(str::trim) {
        if item.is_empty() {
            errors.push(format!(
                "`window` has an empty item in `\"{text}\"`: separate window lengths with \
                 single commas, e.g. `\"3d,7d,30d\"`"
            ));
            continue;
        }
        let window = match parse_item(item, "window") {
            Ok(window) => window,
            Err(message) => {
                errors.push(message);
                continue;
            }
        };
        let Some(micros) = window.micros().filter(|m| *m < i64::MAX / 2) else {
            errors.push(format!("window `{item}` is too long"));
            continue;
        };
        if let Some((_, first, _)) = windows.iter().find(|(_, _, m)| *m == micros) {
            let same = if *first == item {
                format!("window `{item}` is listed twice")
            } else {
                format!("window `{item}` has the same length as `{first}`")
            };
            errors.push(format!("{same}: list each window once"));
            continue;
        }
        windows.push((window, item, micros));
    }
    if errors.is_empty() {
        Ok(windows.into_iter().map(|(w, _, _)| w).collect())
    } else {
        Err(errors)
    }
}

/// Parses `slide = "1h"`: how far apart the rows of rolling windows are.
///
/// A slide divides a day, so that every day starts with a row and a day's
/// partition holds whole slides; a day (the default) is the longest.
pub fn parse_slide(text: &str) -> Result<Window, String> {
    let slide = parse_duration(text, "slide")?;
    let day = Unit::Days.micros();
    match slide.micros() {
        Some(m) if m > day => Err(format!(
            "slide `{}` is longer than a day: rows are at most a day apart; use `1d` (the \
             default) or a slide that divides a day, e.g. `1h`",
            text.trim()
        )),
        Some(m) if day % m != 0 => Err(format!(
            "slide `{}` does not divide a day: rows fall on every midnight (UTC), so the \
             slide must divide 24 hours, e.g. `15m`, `1h` or `6h`",
            text.trim()
        )),
        _ => Ok(slide),
    }
}

/// The windows that do not suit the slide, one message each: without a
/// declared slide (a day), every window must be whole days; with one, a
/// whole number of slides, so that each row's window covers whole slides.
pub fn check_slide(windows: &[Window], slide: Option<Window>) -> Vec<String> {
    let mut errors = Vec::new();
    for w in windows {
        let Some(micros) = w.micros() else { continue };
        match slide {
            None if micros % Unit::Days.micros() != 0 => errors.push(format!(
                "window `{}` is not a whole number of days: windows slide daily unless a \
                 `slide` is declared; add one that divides every window, e.g. `slide = \"1h\"`, \
                 or use days or weeks",
                w.text()
            )),
            Some(slide) => {
                let Some(step) = slide.micros() else { continue };
                if micros % step != 0 {
                    errors.push(format!(
                        "window `{}` is not a multiple of the slide `{}`: each row's window \
                         covers whole slides; use a multiple of `{}` or a slide that divides \
                         every window",
                        w.text(),
                        slide.text(),
                        slide.text()
                    ));
                }
            }
            None => {}
        }
    }
    errors
}

/// One duration, e.g. a join's `ttl = "30d"`: any number of units, whole
/// days or not. `what` names it in messages.
pub fn parse_duration(text: &str, what: &str) -> Result<Window, String> {
    let item = text.trim();
    if item.is_empty() {
        return Err(format!(
            "`{what}` is empty: give a duration such as `{what} = \"30d\"`, or remove it"
        ));
    }
    let window = parse_item(item, what)?;
    match window.micros() {
        Some(m) if m < i64::MAX / 2 => Ok(window),
        _ => Err(format!("{what} `{item}` is too long")),
    }
}

/// One item of a list: `7d`. `what` names it in messages.
fn parse_item(item: &str, what: &str) -> Result<Window, String> {
    let digits = item
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(item.len());
    let (amount, suffix) = item.split_at(digits);
    if amount.is_empty() {
        return Err(format!(
            "`{item}` is not a {what} length: expected a positive integer and a unit, \
             e.g. `7d`; units are {UNITS}"
        ));
    }
    let Some(unit) = Unit::from_suffix(suffix) else {
        let what = if suffix.is_empty() {
            format!("{what} `{item}` has no unit")
        } else {
            format!("unknown unit `{suffix}` in {what} `{item}`")
        };
        return Err(format!("{what}: units are {UNITS}"));
    };
    let Ok(amount) = amount.parse::<u32>() else {
        return Err(format!("{what} `{item}` is too long"));
    };
    if amount == 0 {
        return Err(format!(
            "{what} `{item}` is empty: a {what} is at least 1 unit long"
        ));
    }
    Ok(Window { amount, unit })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(amount: u32, unit: Unit) -> Window {
        Window { amount, unit }
    }

    fn err(text: &str) -> String {
        match parse(text) {
            Ok(windows) => panic!("{text:?} parsed as {windows:?}"),
            Err(errors) => errors.join("\n"),
        }
    }

    #[test]
    fn parses_the_promised_form() {
        assert_eq!(
            parse("3d,7d,30d").unwrap(),
            vec![w(3, Unit::Days), w(7, Unit::Days), w(30, Unit::Days)]
        );
    }

    #[test]
    fn spaces_around_commas_and_units_as_written() {
        assert_eq!(
            parse(" 1w , 2d,72h ,5760m").unwrap(),
            vec![
                w(1, Unit::Weeks),
                w(2, Unit::Days),
                w(72, Unit::Hours),
                w(5760, Unit::Minutes)
            ]
        );
    }

    #[test]
    fn names() {
        assert_eq!(w(3, Unit::Days).name(), "3_days");
        assert_eq!(w(1, Unit::Days).name(), "1_day");
        assert_eq!(w(1, Unit::Weeks).name(), "1_week");
        assert_eq!(w(12, Unit::Hours).name(), "12_hours");
        assert_eq!(w(30, Unit::Minutes).name(), "30_minutes");
        assert_eq!(w(1, Unit::Minutes).to_string(), "1 minute");
    }

    #[test]
    fn empty() {
        assert!(err("").contains("`window` is empty"));
        assert!(err("  ").contains("`window` is empty"));
        assert!(err("3d,,7d").contains("empty item in `\"3d,,7d\"`"));
        assert!(err("3d,").contains("empty item"));
    }

    #[test]
    fn units() {
        let e = err("3x");
        assert!(e.contains("unknown unit `x` in window `3x`"), "{e}");
        assert!(e.contains("`m` (minutes), `h` (hours), `d` (days) or `w` (weeks)"));
        assert!(err("3").contains("window `3` has no unit"));
        assert!(err("3 d").contains("unknown unit ` d`"));
        assert!(err("3D").contains("unknown unit `D`"));
        assert!(err("d").contains("`d` is not a window length"));
        assert!(err("-3d").contains("`-3d` is not a window length"));
    }

    #[test]
    fn amounts() {
        assert!(err("0d").contains("window `0d` is empty"));
        assert!(err("99999999999d").contains("too long"));
        assert!(err("4294967295w").contains("too long"));
    }

    #[test]
    fn duplicates_compare_lengths() {
        assert!(err("3d,3d").contains("window `3d` is listed twice"));
        assert!(err("7d,1w").contains("window `1w` has the same length as `7d`"));
        assert!(err("1d,24h").contains("`24h` has the same length as `1d`"));
    }

    #[test]
    fn sub_day_windows_need_a_slide() {
        let windows = parse("12h,36h,30m,24h,2d").unwrap();
        let e = check_slide(&windows, None);
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].contains("window `12h` is not a whole number of days"),
            "{e:?}"
        );
        assert!(e[0].contains("`slide = \"1h\"`"));
        assert!(e[1].contains("`36h`"));
        assert!(e[2].contains("`30m`"));
    }

    #[test]
    fn windows_are_whole_slides() {
        let hour = w(1, Unit::Hours);
        let windows = parse("1h,6h,1d,90m,1w").unwrap();
        let e = check_slide(&windows, Some(hour));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains("window `90m` is not a multiple of the slide `1h`"),
            "{e:?}"
        );
        assert!(check_slide(&windows, Some(w(30, Unit::Minutes))).is_empty());
        assert!(check_slide(&parse("3d,7d").unwrap(), Some(w(24, Unit::Hours))).is_empty());
    }

    #[test]
    fn slides_divide_a_day() {
        assert_eq!(parse_slide("1h").unwrap(), w(1, Unit::Hours));
        assert_eq!(parse_slide(" 15m ").unwrap(), w(15, Unit::Minutes));
        assert!(parse_slide("1d").unwrap().is_day());
        assert!(parse_slide("24h").unwrap().is_day());
        assert!(parse_slide("1440m").unwrap().is_day());
        let e = parse_slide("7h").unwrap_err();
        assert!(e.contains("slide `7h` does not divide a day"), "{e}");
        let e = parse_slide("2d").unwrap_err();
        assert!(e.contains("slide `2d` is longer than a day"), "{e}");
        assert!(parse_slide("1w").unwrap_err().contains("longer than a day"));
        assert!(parse_slide("0h")
            .unwrap_err()
            .contains("slide `0h` is empty"));
        assert!(parse_slide("").unwrap_err().contains("`slide` is empty"));
        assert!(parse_slide("1x")
            .unwrap_err()
            .contains("unknown unit `x` in slide `1x`"));
        assert!(parse_slide("1h,2h").is_err());
        assert!(parse_slide("99999999999m")
            .unwrap_err()
            .contains("too long"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration(" 30d ", "ttl").unwrap(), w(30, Unit::Days));
        assert_eq!(parse_duration("12h", "ttl").unwrap(), w(12, Unit::Hours));
        let e = parse_duration("30x", "ttl").unwrap_err();
        assert!(e.contains("unknown unit `x` in ttl `30x`"), "{e}");
        assert!(parse_duration("", "ttl")
            .unwrap_err()
            .contains("`ttl` is empty"));
        assert!(parse_duration("0d", "ttl")
            .unwrap_err()
            .contains("ttl `0d` is empty"));
        assert!(parse_duration("4294967295w", "ttl")
            .unwrap_err()
            .contains("too long"));
        assert!(parse_duration("3d,7d", "ttl").is_err());
    }

    #[test]
    fn every_bad_item_is_reported() {
        let errors = parse("3x,0d,7d,1w").unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
    }
}
