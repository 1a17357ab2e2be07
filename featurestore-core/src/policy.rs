//! What a run does with some rows: rows that do not fit a source's
//! declaration, and duplicate events in a window.

/// What a run does with a source row that does not fit the declaration (a
/// wrong field count, a value of the wrong type, an unparsable time, a null
/// in a non-`Option` column): `on_bad_rows = "fail"` (the default), `"skip"`
/// or `"quarantine"` in `#[source(...)]`, overridable per source in
/// `featurestore.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OnBadRows {
    /// Stop the run with an error naming the file, line, column and the
    /// expected value; no store is written.
    #[default]
    Fail,
    /// Drop bad rows, counting them in the run's report.
    Skip,
    /// Drop bad rows and write them, with the reason, to a quarantine file
    /// next to the run's output.
    Quarantine,
}

impl OnBadRows {
    /// The policies, by their names in attributes and configuration.
    pub const ALL: [OnBadRows; 3] = [OnBadRows::Fail, OnBadRows::Skip, OnBadRows::Quarantine];

    /// The name used in attributes and configuration.
    pub const fn name(self) -> &'static str {
        match self {
            OnBadRows::Fail => "fail",
            OnBadRows::Skip => "skip",
            OnBadRows::Quarantine => "quarantine",
        }
    }

    /// The policy named `name`.
    pub fn from_name(name: &str) -> Option<OnBadRows> {
        OnBadRows::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Which of duplicate events a `distinct` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Keep {
    /// The earliest.
    First,
    /// The latest (Butterfree's default).
    #[default]
    Last,
}

impl Keep {
    /// The choices, by their names in attributes.
    pub const ALL: [Keep; 2] = [Keep::First, Keep::Last];

    /// The name used in attributes: `keep = last`.
    pub const fn name(self) -> &'static str {
        match self {
            Keep::First => "first",
            Keep::Last => "last",
        }
    }

    /// The choice named `name`.
    pub fn from_name(name: &str) -> Option<Keep> {
        Keep::ALL.into_iter().find(|k| k.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in OnBadRows::ALL {
            assert_eq!(OnBadRows::from_name(p.name()), Some(p));
        }
        assert_eq!(OnBadRows::default(), OnBadRows::Fail);
        assert_eq!(OnBadRows::from_name("drop"), None);
        for k in Keep::ALL {
            assert_eq!(Keep::from_name(k.name()), Some(k));
        }
        assert_eq!(Keep::default(), Keep::Last);
    }
}
