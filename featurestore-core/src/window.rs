//! Window lengths and frames, and the `window = "3d,7d,30d"` / `slide =
//! "1h"` mini-language: pure parsers and checks returning messages, which
//! the macros put under the offending literal.

use std::fmt;

/// The unit of a window length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowUnit {
    /// `m`
    Minutes,
    /// `h`
    Hours,
    /// `d`
    Days,
    /// `w`
    Weeks,
}

impl WindowUnit {
    /// The units, by their suffixes in attributes.
    pub const ALL: [WindowUnit; 4] = [
        WindowUnit::Minutes,
        WindowUnit::Hours,
        WindowUnit::Days,
        WindowUnit::Weeks,
    ];

    /// Length of one unit in microseconds.
    pub const fn micros(self) -> i64 {
        match self {
            WindowUnit::Minutes => 60_000_000,
            WindowUnit::Hours => 3_600_000_000,
            WindowUnit::Days => 86_400_000_000,
            WindowUnit::Weeks => 7 * 86_400_000_000,
        }
    }

    /// The unit as a word in output column names and docs.
    pub const fn word(self, plural: bool) -> &'static str {
        match (self, plural) {
            (WindowUnit::Minutes, false) => "minute",
            (WindowUnit::Minutes, true) => "minutes",
            (WindowUnit::Hours, false) => "hour",
            (WindowUnit::Hours, true) => "hours",
            (WindowUnit::Days, false) => "day",
            (WindowUnit::Days, true) => "days",
            (WindowUnit::Weeks, false) => "week",
            (WindowUnit::Weeks, true) => "weeks",
        }
    }

    /// The unit as written in attributes: `m`, `h`, `d`, `w`.
    pub const fn suffix(self) -> &'static str {
        match self {
            WindowUnit::Minutes => "m",
            WindowUnit::Hours => "h",
            WindowUnit::Days => "d",
            WindowUnit::Weeks => "w",
        }
    }

    /// The unit written `suffix`.
    pub fn from_suffix(suffix: &str) -> Option<WindowUnit> {
        WindowUnit::ALL.into_iter().find(|u| u.suffix() == suffix)
    }
}

/// A window length exactly as written: `7d` stays 7 days, `1w` stays 1 week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    /// Number of units, at least 1.
    pub amount: u32,
    /// The unit.
    pub unit: WindowUnit,
}

impl Window {
    /// One day: the slide of rolling windows unless `slide` is declared.
    pub const DAY: Window = Window {
        amount: 1,
        unit: WindowUnit::Days,
    };

    /// Length in microseconds. The parsers accept only windows whose length
    /// fits with room to spare; see [`Window::checked_micros`] for others.
    pub const fn micros(self) -> i64 {
        self.amount as i64 * self.unit.micros()
    }

    /// Length in microseconds, or `None` if it does not fit in an `i64`.
    pub const fn checked_micros(self) -> Option<i64> {
        (self.amount as i64).checked_mul(self.unit.micros())
    }

    /// Length in whole days, if it is a whole number of days.
    pub const fn days(self) -> Option<i64> {
        let m = self.micros();
        if m % WindowUnit::Days.micros() == 0 {
            Some(m / WindowUnit::Days.micros())
        } else {
            None
        }
    }

    /// Whether the window is one day long, however written (`1d`, `24h`).
    pub const fn is_day(self) -> bool {
        matches!(self.checked_micros(), Some(m) if m == Window::DAY.micros())
    }

    /// `3_days`, `1_week`: the window's part of an output column name.
    pub fn name(self) -> String {
        format!("{}_{}", self.amount, self.unit.word(self.amount != 1))
    }

    /// `7d`: the length as written in attributes.
    pub fn written(self) -> String {
        format!("{}{}", self.amount, self.unit.suffix())
    }
}

impl fmt::Display for Window {
    /// `3 days`, `1 week`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.unit.word(self.amount != 1))
    }
}

/// The events a window function aggregates for each event of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Frame {
    /// `over = "2m"`, fixed windows: the events at most this long before
    /// the event, up to and including the events at its time.
    Range(Window),
    /// `rows = 2`, row windows: the event and the `n − 1` before it in time
    /// order (events at one time in input order).
    Rows(u32),
}

/// The longest window or duration accepted, in microseconds: room to add
/// and subtract lengths without overflow.
const LONGEST: i64 = i64::MAX / 2;

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
        let Some(micros) = window.checked_micros().filter(|m| *m < LONGEST) else {
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
    let day = Window::DAY.micros();
    match slide.checked_micros() {
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
        let Some(micros) = w.checked_micros() else {
            continue;
        };
        match slide {
            None if micros % Window::DAY.micros() != 0 => errors.push(format!(
                "window `{}` is not a whole number of days: windows slide daily unless a \
                 `slide` is declared; add one that divides every window, e.g. `slide = \"1h\"`, \
                 or use days or weeks",
                w.written()
            )),
            Some(slide) => {
                let Some(step) = slide.checked_micros() else {
                    continue;
                };
                if micros % step != 0 {
                    errors.push(format!(
                        "window `{}` is not a multiple of the slide `{}`: each row's window \
                         covers whole slides; use a multiple of `{}` or a slide that divides \
                         every window",
                        w.written(),
                        slide.written(),
                        slide.written()
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
    match window.checked_micros() {
        Some(m) if m < LONGEST => Ok(window),
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
    let Some(unit) = WindowUnit::from_suffix(suffix) else {
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

    fn w(amount: u32, unit: WindowUnit) -> Window {
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
            vec![
                w(3, WindowUnit::Days),
                w(7, WindowUnit::Days),
                w(30, WindowUnit::Days)
            ]
        );
    }

    #[test]
    fn spaces_around_commas_and_units_as_written() {
        assert_eq!(
            parse(" 1w , 2d,72h ,5760m").unwrap(),
            vec![
                w(1, WindowUnit::Weeks),
                w(2, WindowUnit::Days),
                w(72, WindowUnit::Hours),
                w(5760, WindowUnit::Minutes)
            ]
        );
    }

    #[test]
    fn names() {
        assert_eq!(w(3, WindowUnit::Days).name(), "3_days");
        assert_eq!(w(1, WindowUnit::Days).name(), "1_day");
        assert_eq!(w(1, WindowUnit::Weeks).name(), "1_week");
        assert_eq!(w(12, WindowUnit::Hours).name(), "12_hours");
        assert_eq!(w(30, WindowUnit::Minutes).name(), "30_minutes");
        assert_eq!(w(1, WindowUnit::Minutes).to_string(), "1 minute");
        assert_eq!(w(90, WindowUnit::Minutes).written(), "90m");
    }

    #[test]
    fn lengths() {
        assert_eq!(Window::DAY.micros(), 86_400_000_000);
        assert_eq!(w(2, WindowUnit::Weeks).days(), Some(14));
        assert_eq!(w(36, WindowUnit::Hours).days(), None);
        assert!(w(24, WindowUnit::Hours).is_day());
        assert!(!w(2, WindowUnit::Days).is_day());
        assert_eq!(w(u32::MAX, WindowUnit::Weeks).checked_micros(), None);
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
        let hour = w(1, WindowUnit::Hours);
        let windows = parse("1h,6h,1d,90m,1w").unwrap();
        let e = check_slide(&windows, Some(hour));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains("window `90m` is not a multiple of the slide `1h`"),
            "{e:?}"
        );
        assert!(check_slide(&windows, Some(w(30, WindowUnit::Minutes))).is_empty());
        assert!(check_slide(&parse("3d,7d").unwrap(), Some(w(24, WindowUnit::Hours))).is_empty());
    }

    #[test]
    fn slides_divide_a_day() {
        assert_eq!(parse_slide("1h").unwrap(), w(1, WindowUnit::Hours));
        assert_eq!(parse_slide(" 15m ").unwrap(), w(15, WindowUnit::Minutes));
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
        assert_eq!(
            parse_duration(" 30d ", "ttl").unwrap(),
            w(30, WindowUnit::Days)
        );
        assert_eq!(
            parse_duration("12h", "ttl").unwrap(),
            w(12, WindowUnit::Hours)
        );
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
