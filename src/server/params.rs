//! Query-string parameters, decoded strictly: a value that is not UTF-8 once percent-decoded,
//! a parameter given twice or one no endpoint knows is a 400 naming it, not a guess.

use std::str::FromStr;

use super::error::ApiError;

/// The decoded parameters of one request, taken one by one by the handler; what is left at
/// [`Params::finish`] was not understood.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

/// `+` is a space in a query string; then percent-decoding, which may give any bytes.
fn decode(part: &str) -> Result<String, Vec<u8>> {
    let spaced = part.replace('+', " ");
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(&spaced).collect();
    String::from_utf8(bytes).map_err(|e| e.into_bytes())
}

impl Params {
    /// Decodes a raw query string (`a=1&b=x%20y`). Empty values count as not given (see
    /// [`Params::all`]), so a form that sends every field (`category=&since=`) means "no filter".
    pub fn parse(raw: Option<&str>) -> Result<Params, ApiError> {
        let mut pairs = Vec::new();
        for part in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let key = decode(key)
                .map_err(|_| ApiError::bad("query string", "a parameter name is not UTF-8"))?;
            let value = decode(value)
                .map_err(|_| ApiError::bad(&key, "not valid UTF-8 once percent-decoded"))?;
            // No text a person searches for holds a NUL, and the index and the C libraries
            // below it read one as the end of a string: refused like any bad value.
            if value.contains('\0') {
                return Err(ApiError::bad(&key, "contains a NUL byte (%00)"));
            }
            pairs.push((key, value));
        }
        Ok(Params { pairs })
    }

    /// Every non-empty value of `name` (for parameters that may repeat, like `category`).
    pub fn all(&mut self, name: &str) -> Vec<String> {
        let (taken, rest) = std::mem::take(&mut self.pairs)
            .into_iter()
            .partition(|(k, _)| k == name);
        self.pairs = rest;
        taken
            .into_iter()
            .map(|(_, v)| v)
            .filter(|v| !v.trim().is_empty())
            .collect()
    }

    /// The value of `name`, if given once; given twice is an error.
    pub fn one(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        let mut values = self.all(name);
        if values.len() > 1 {
            return Err(ApiError::bad(name, "given more than once"));
        }
        Ok(values.pop())
    }

    /// The value of `name` parsed as `T` (the library's `FromStr` errors name their
    /// parameter); `what` says what was expected when the parse error does not.
    pub fn parsed<T>(&mut self, name: &str, what: &str) -> Result<Option<T>, ApiError>
    where
        T: FromStr,
    {
        self.one(name)?
            .map(|v| {
                v.trim()
                    .parse::<T>()
                    .map_err(|_| ApiError::bad(name, format!("{v:?} is not {what}")))
            })
            .transpose()
    }

    /// The value of `name` as a whole number; digits past the largest one are "too large",
    /// naming the largest, not "not a whole number".
    pub fn whole(&mut self, name: &str) -> Result<Option<usize>, ApiError> {
        self.one(name)?
            .map(|v| {
                let digits = v.trim();
                digits.parse::<usize>().map_err(|e| match e.kind() {
                    std::num::IntErrorKind::PosOverflow => ApiError::bad(
                        name,
                        format!("{digits} is too large (the largest is {})", usize::MAX),
                    ),
                    _ => ApiError::bad(name, format!("{v:?} is not a whole number")),
                })
            })
            .transpose()
    }

    /// The value of `name` parsed by the library (whose errors name the parameter).
    pub fn library<T>(&mut self, name: &str) -> Result<Option<T>, ApiError>
    where
        T: FromStr<Err = crate::Error>,
    {
        self.one(name)?
            .map(|v| v.parse::<T>().map_err(ApiError::from))
            .transpose()
    }

    /// A count in `1..=max`, `default` when not given.
    pub fn count(&mut self, name: &str, default: usize, max: usize) -> Result<usize, ApiError> {
        let value = self.whole(name)?.unwrap_or(default);
        if value == 0 || value > max {
            return Err(ApiError::bad(
                name,
                format!("{value} is out of range (1 to {max})"),
            ));
        }
        Ok(value)
    }

    /// `true`/`false` (also `1`/`0`), `default` when not given.
    pub fn flag(&mut self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.one(name)?.as_deref().map(str::trim) {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(ApiError::bad(
                name,
                format!("{other:?} is not true or false"),
            )),
        }
    }

    /// Fails on the first parameter no one took: a misspelt `limt` is an error, not ignored.
    pub fn finish(self) -> Result<(), ApiError> {
        // A bare `&&` or `=` names nothing; a name with an empty value still must be known.
        match self.pairs.into_iter().find(|(name, _)| !name.is_empty()) {
            Some((name, _)) => Err(ApiError::bad(&name, "unknown parameter for this endpoint")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_percent_and_drops_empty_values() {
        let mut p = Params::parse(Some("q=hallucination+benchmark&mode=&x=%E5%B9%BB")).unwrap();
        assert_eq!(
            p.one("q").unwrap().as_deref(),
            Some("hallucination benchmark")
        );
        assert_eq!(p.one("mode").unwrap(), None);
        assert_eq!(p.one("x").unwrap().as_deref(), Some("幻"));
        p.finish().unwrap();
    }

    #[test]
    fn a_number_too_large_is_called_too_large_with_the_largest() {
        let mut p = Params::parse(Some("offset=99999999999999999999999&limit=x")).unwrap();
        let error = p.whole("offset").unwrap_err().body.error;
        assert!(
            error.contains("too large") && error.contains(&usize::MAX.to_string()),
            "{error}"
        );
        let error = p.whole("limit").unwrap_err().body.error;
        assert!(error.contains("not a whole number"), "{error}");
    }

    #[test]
    fn rejects_invalid_utf8_repeats_and_leftovers() {
        assert_eq!(
            Params::parse(Some("q=%FF"))
                .unwrap_err()
                .body
                .parameter
                .as_deref(),
            Some("q")
        );
        assert_eq!(
            Params::parse(Some("q=ab%00cd"))
                .unwrap_err()
                .body
                .parameter
                .as_deref(),
            Some("q")
        );
        let mut p = Params::parse(Some("limit=1&limit=2")).unwrap();
        assert!(p.one("limit").is_err());
        let p = Params::parse(Some("limt=3")).unwrap();
        assert_eq!(
            p.finish().unwrap_err().body.parameter.as_deref(),
            Some("limt")
        );
    }
}
