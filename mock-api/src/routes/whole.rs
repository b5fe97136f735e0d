//! JSON integers as JSON Schema counts them: a number with a zero fractional part
//! (`359.0`) is an integer, so a body the document calls valid is read as one.
//! serde alone refuses `359.0` for an integer field.

use serde::de::{Deserializer, Error};
use serde::Deserialize;

/// Reads an integer field that may be written as a whole decimal (`5`, `5.0`, `5e2`).
pub(crate) fn deserialize<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    let n = serde_json::Number::deserialize(d)?;
    let whole = n.as_i64().or_else(|| {
        n.as_f64()
            // Within i64, where every whole f64 converts exactly.
            .filter(|x| x.fract() == 0.0 && x.abs() < 9.2e18)
            .map(|x| x as i64)
    });
    let Some(value) = whole else {
        return Err(D::Error::custom(format!(
            "invalid value: {n}, expected an integer"
        )));
    };
    T::try_from(value)
        .map_err(|_| D::Error::custom(format!("invalid value: {n}, out of the field's range")))
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::deserialize")]
        n: u32,
    }

    fn read(json: &str) -> Result<u32, String> {
        serde_json::from_str::<Body>(json)
            .map(|b| b.n)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn whole_decimals_are_integers_and_fractions_are_refused() {
        assert_eq!(read(r#"{"n": 290}"#), Ok(290));
        assert_eq!(read(r#"{"n": 290.0}"#), Ok(290));
        assert_eq!(read(r#"{"n": 2.9e2}"#), Ok(290));
        let e = read(r#"{"n": 290.5}"#).unwrap_err();
        assert!(e.contains("290.5, expected an integer"), "{e}");
        let e = read(r#"{"n": -1.0}"#).unwrap_err();
        assert!(e.contains("out of the field's range"), "{e}");
        let e = read(r#"{"n": "290"}"#).unwrap_err();
        assert!(e.contains("invalid type"), "{e}");
    }
}
