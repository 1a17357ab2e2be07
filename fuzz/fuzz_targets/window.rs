//! The `window = "..."` and duration parser of the macros, on any text: it
//! never panics, and what it accepts prints back to what it parses to.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The parser is plain Rust in the proc-macro crate, which cannot export it.
#[allow(dead_code)]
#[path = "../../featurestore-macros/src/window.rs"]
mod window;

fn suffix(unit: window::Unit) -> &'static str {
    match unit {
        window::Unit::Minutes => "m",
        window::Unit::Hours => "h",
        window::Unit::Days => "d",
        window::Unit::Weeks => "w",
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match window::parse(text) {
        Ok(windows) => {
            assert!(!windows.is_empty(), "{text:?} parsed to no window");
            let mut lengths = Vec::new();
            for w in &windows {
                assert!(w.amount > 0, "{text:?}: zero-length window {w:?}");
                let micros = i64::from(w.amount) * w.unit.micros();
                assert_eq!(micros % window::Unit::Days.micros(), 0, "{text:?}");
                assert!(!lengths.contains(&micros), "{text:?}: duplicate length");
                lengths.push(micros);
            }
            let printed: Vec<String> = windows
                .iter()
                .map(|w| format!("{}{}", w.amount, suffix(w.unit)))
                .collect();
            assert_eq!(
                window::parse(&printed.join(",")),
                Ok(windows),
                "{text:?} does not round-trip"
            );
        }
        Err(errors) => assert!(!errors.is_empty(), "{text:?}: error without message"),
    }
    if let Ok(w) = window::parse_duration(text, "ttl") {
        let printed = format!("{}{}", w.amount, suffix(w.unit));
        assert_eq!(window::parse_duration(&printed, "ttl"), Ok(w));
    }
});
