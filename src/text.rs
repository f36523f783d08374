//! Script and length helpers shared by the analyzers, the parser and the printers.

/// Han ideographs and the CJK punctuation/full-width forms that sit among them.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x303F | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF
        | 0x20000..=0x2FA1F)
}

/// Han ideographs only: CJK punctuation separates words, so jieba should not see it as text.
pub fn is_han(c: char) -> bool {
    is_cjk(c) && !matches!(c as u32, 0x3000..=0x303F | 0xFF00..=0xFFEF)
}

/// A count with thousands separated (`8,320`), as counts are read in a sentence.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// At most `max_chars` characters of `text`, with `…` when something was cut. Counts characters,
/// not bytes, so Chinese text is never cut inside a character.
pub fn truncate_chars(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punctuation_is_cjk_but_not_han() {
        assert!(is_han('幻') && is_cjk('幻'));
        assert!(is_cjk('，') && !is_han('，'));
        assert!(!is_cjk('a'));
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate_chars("幻觉基准", 2), "幻觉…");
        assert_eq!(truncate_chars("abc", 3), "abc");
    }
}
