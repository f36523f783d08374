//! Spelling suggestions from the index's own vocabulary.

use tantivy::Term;
use tantivy::tokenizer::TextAnalyzer;

use super::reader::TextIndex;
use crate::analyze;

impl TextIndex {
    /// A spelling correction of `text` from the index's own vocabulary: each Latin word of four
    /// letters or more that matches no paper is replaced by the word one edit away (a letter
    /// dropped, swapped, changed or added) that most papers contain. `None` when every word
    /// matches or nothing close does. (Edits are generated rather than looked up with a
    /// Levenshtein automaton because the dictionary holds stems: the candidate must be a word a
    /// user can read, and its stem must be indexed.)
    pub(crate) fn suggest(&self, text: &str) -> Option<String> {
        let searcher = self.searcher();
        let mut english = self.english.clone();
        let frequency = |word: &str, english: &mut TextAnalyzer| -> u64 {
            analyze::terms(english, word)
                .iter()
                .map(|t| {
                    searcher
                        .doc_freq(&Term::from_field_text(self.fields.all, t))
                        .unwrap_or(0)
                })
                .min()
                .unwrap_or(0)
        };
        let mut changed = false;
        let words: Vec<String> = text
            .split_whitespace()
            .map(|word| {
                let lower = word.to_lowercase();
                let latin = lower.chars().all(|c| c.is_ascii_alphabetic());
                if !latin || lower.len() < 4 || frequency(&lower, &mut english) > 0 {
                    return word.to_string();
                }
                let best = one_edit_away(&lower)
                    .into_iter()
                    .map(|candidate| (frequency(&candidate, &mut english), candidate))
                    .filter(|(df, _)| *df > 0)
                    .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
                match best {
                    Some((_, candidate)) => {
                        changed = true;
                        candidate
                    }
                    None => word.to_string(),
                }
            })
            .collect();
        changed.then(|| words.join(" "))
    }
}

/// Every lowercase ASCII word one edit from `word`: a letter deleted, two neighbours swapped,
/// a letter replaced, a letter inserted.
fn one_edit_away(word: &str) -> Vec<String> {
    let letters: Vec<char> = word.chars().collect();
    let alphabet = 'a'..='z';
    let mut out = Vec::new();
    for i in 0..letters.len() {
        let mut deleted = letters.clone();
        deleted.remove(i);
        out.push(deleted.iter().collect());
        if i + 1 < letters.len() {
            let mut swapped = letters.clone();
            swapped.swap(i, i + 1);
            out.push(swapped.iter().collect());
        }
        for c in alphabet.clone() {
            let mut replaced = letters.clone();
            replaced[i] = c;
            out.push(replaced.iter().collect());
        }
    }
    for i in 0..=letters.len() {
        for c in alphabet.clone() {
            let mut inserted = letters.clone();
            inserted.insert(i, c);
            out.push(inserted.iter().collect());
        }
    }
    out.sort();
    out.dedup();
    out.retain(|w| w != word);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_include_the_missing_letter() {
        let edits = one_edit_away("halucination");
        assert!(edits.contains(&"hallucination".to_string()));
        assert!(edits.contains(&"ahlucination".to_string()));
        assert!(!edits.contains(&"halucination".to_string()));
    }
}
