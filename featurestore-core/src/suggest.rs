//! "Did you mean": the rule that picks the known name a misspelled one is
//! closest to, for the macros' messages and the runtime's compile-time
//! checks alike. `const`, so generated code can apply it to names only
//! rustc knows (another declaration's columns).

/// Names longer than this are never suggested, nor suggestions made for
/// them: the distance is computed in fixed space.
pub const MAX_LEN: usize = 64;

/// The Levenshtein distance between two names, byte by byte (names are
/// ASCII identifiers); `None` if either is longer than [`MAX_LEN`].
pub const fn edit_distance(a: &str, b: &str) -> Option<usize> {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() > MAX_LEN || b.len() > MAX_LEN {
        return None;
    }
    let mut row = [0usize; MAX_LEN + 1];
    let mut j = 0;
    while j <= b.len() {
        row[j] = j;
        j += 1;
    }
    let mut i = 0;
    while i < a.len() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        let mut j = 0;
        while j < b.len() {
            let above = row[j + 1];
            let substitute = diagonal + if a[i] == b[j] { 0 } else { 1 };
            let mut best = if row[j] + 1 < above + 1 {
                row[j] + 1
            } else {
                above + 1
            };
            if substitute < best {
                best = substitute;
            }
            row[j + 1] = best;
            diagonal = above;
            j += 1;
        }
        i += 1;
    }
    Some(row[b.len()])
}

/// How close `known` is to the `written` name, if close enough to suggest
/// (smaller is closer): at most 2 edits away, or starting with a written
/// name of 3 or more letters.
pub const fn closeness(written: &str, known: &str) -> Option<usize> {
    let Some(d) = edit_distance(written, known) else {
        return None;
    };
    if d <= 2 || (written.len() >= 3 && starts_with(known, written)) {
        Some(d)
    } else {
        None
    }
}

/// The index of the name of `known` to suggest for `written`: the closest
/// (the first of equally close ones), if any is close enough.
pub fn did_you_mean<'a>(written: &str, known: impl IntoIterator<Item = &'a str>) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (i, k) in known.into_iter().enumerate() {
        if let Some(d) = closeness(written, k) {
            if best.is_none_or(|(b, _)| d < b) {
                best = Some((d, i));
            }
        }
    }
    best.map(|(_, i)| i)
}

const fn starts_with(text: &str, prefix: &str) -> bool {
    let (text, prefix) = (text.as_bytes(), prefix.as_bytes());
    if prefix.len() > text.len() {
        return false;
    }
    let mut i = 0;
    while i < prefix.len() {
        if text[i] != prefix[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_by_hand() {
        assert_eq!(edit_distance("amount", "amount"), Some(0));
        assert_eq!(edit_distance("amout", "amount"), Some(1));
        assert_eq!(edit_distance("kitten", "sitting"), Some(3));
        assert_eq!(edit_distance("", "abc"), Some(3));
        assert_eq!(edit_distance(&"a".repeat(65), "a"), None);
    }

    #[test]
    fn suggestions_are_close_or_completions() {
        let known = ["order_id", "order_timestamp", "cpf", "amount"];
        assert_eq!(did_you_mean("order_idd", known), Some(0));
        assert_eq!(did_you_mean("amout", known), Some(3));
        assert_eq!(did_you_mean("order_time", known), Some(1));
        assert_eq!(did_you_mean("merchant", known), None);
        // Two letters are no completion.
        assert_eq!(did_you_mean("am", ["amount"]), None);
        assert_eq!(closeness("cp", "cpf"), Some(1));
    }
}
