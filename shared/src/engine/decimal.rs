//! Canonical decimal text for HubSpot number properties.
//!
//! Salesforce renders numbers as `39.0` (outbound messages), `1.5E3` (some APIs) or plain JSON
//! numbers; HubSpot stores whatever decimal string it is given, so `39.0` and `39` would look like
//! a change on every sync. The normalisation works on the decimal digits themselves, never through
//! `f64`, so a 20-digit currency value keeps every digit.

/// Why a text is not a decimal number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("it is blank")]
    Blank,
    #[error("it is not a decimal number such as 1234.56")]
    NotADecimal,
    #[error("it is too large or too small to write out in fewer than {MAX_SCALE} digits")]
    OutOfRange,
}

/// The most digits either side of the decimal point we are willing to write out: an exponent
/// such as `1e999999999` must not turn into a gigabyte of zeros.
pub const MAX_SCALE: i64 = 1000;

/// Rewrites a decimal number (`"39.0"`, `"-0.50"`, `"1.5E3"`, `"1e-7"`) as plain decimal text
/// without exponent, leading or trailing zeros: `"39"`, `"-0.5"`, `"1500"`, `"0.0000001"`.
/// Negative zero becomes `"0"`. Surrounding whitespace is ignored.
pub fn canonical_decimal(text: &str) -> Result<String, DecimalError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DecimalError::Blank);
    }
    let parts = split_decimal(text).ok_or(DecimalError::NotADecimal)?;

    // All significant digits in one string, with the decimal point `point` digits from the left
    // (negative or beyond the end when the exponent moves it out of the digits).
    let mut digits: String = parts
        .integer
        .chars()
        .chain(parts.fraction.chars())
        .collect();
    let integer_len = i64::try_from(parts.integer.len()).map_err(|_| DecimalError::OutOfRange)?;
    let mut point = integer_len
        .checked_add(parts.exponent)
        .ok_or(DecimalError::OutOfRange)?;

    let leading_zeros = digits.len() - digits.trim_start_matches('0').len();
    digits.drain(..leading_zeros);
    point -= i64::try_from(leading_zeros).map_err(|_| DecimalError::OutOfRange)?;
    let significant_len = digits.trim_end_matches('0').len();
    digits.truncate(significant_len);

    if digits.is_empty() {
        return Ok("0".to_owned());
    }
    let digit_count = i64::try_from(digits.len()).map_err(|_| DecimalError::OutOfRange)?;
    if !(-MAX_SCALE..=MAX_SCALE).contains(&point) {
        return Err(DecimalError::OutOfRange);
    }

    let mut out = String::with_capacity(digits.len() + 4);
    if parts.negative {
        out.push('-');
    }
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', usize_from(-point)));
        out.push_str(&digits);
    } else if point >= digit_count {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', usize_from(point - digit_count)));
    } else {
        let (whole, fraction) = digits.split_at(usize_from(point));
        out.push_str(whole);
        out.push('.');
        out.push_str(fraction);
    }
    Ok(out)
}

/// `value` is within ±MAX_SCALE here, so the conversion cannot fail; 0 keeps it total anyway.
fn usize_from(value: i64) -> usize {
    usize::try_from(value).unwrap_or(0)
}

struct DecimalParts<'a> {
    negative: bool,
    integer: &'a str,
    fraction: &'a str,
    exponent: i64,
}

/// Splits `[+-]digits[.digits][(e|E)[+-]digits]`; at least one mantissa digit is required.
fn split_decimal(text: &str) -> Option<DecimalParts<'_>> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent_text) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (integer, fraction) = match mantissa.split_once('.') {
        Some((integer, fraction)) => (integer, fraction),
        None => (mantissa, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if integer.is_empty() && fraction.is_empty() || !all_digits(integer) || !all_digits(fraction) {
        return None;
    }
    let exponent = match exponent_text {
        None => 0,
        Some(exponent_text) => parse_exponent(exponent_text)?,
    };
    Some(DecimalParts {
        negative,
        integer,
        fraction,
        exponent,
    })
}

/// An exponent too large for i64 is clamped: it is out of range either way, and `MAX_SCALE`
/// rejects it after the mantissa's zeros are accounted for.
fn parse_exponent(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.parse::<i64>().unwrap_or(i64::MAX / 2);
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salesforce_number_shapes_become_canonical() {
        for (input, expected) in [
            ("39.0", "39"),
            ("0.0", "0"),
            ("208230.0", "208230"),
            ("-0.50", "-0.5"),
            ("1.5E3", "1500"),
            ("1e-7", "0.0000001"),
            ("12345678901234567890.10", "12345678901234567890.1"),
            ("-0", "0"),
            ("-0.000", "0"),
            ("+7", "7"),
            ("007.2500", "7.25"),
            (".5", "0.5"),
            ("5.", "5"),
            ("0.00012E2", "0.012"),
            ("1234.5e-2", "12.345"),
            (" 42 ", "42"),
            ("1E+2", "100"),
            ("0e999999999999999999999", "0"),
        ] {
            assert_eq!(canonical_decimal(input).as_deref(), Ok(expected), "{input}");
        }
    }

    #[test]
    fn non_numbers_are_refused_with_a_reason() {
        assert_eq!(canonical_decimal(""), Err(DecimalError::Blank));
        assert_eq!(canonical_decimal("   "), Err(DecimalError::Blank));
        for input in [
            "NaN",
            "Infinity",
            "-Infinity",
            "12,50",
            "1.2.3",
            "1e",
            "e5",
            ".",
            "-",
            "+",
            "0x10",
            "1_000",
            "1 000",
            "--1",
            "1e+-2",
            "١٢",
        ] {
            assert_eq!(
                canonical_decimal(input),
                Err(DecimalError::NotADecimal),
                "{input}"
            );
        }
        assert_eq!(
            canonical_decimal("1e999999999"),
            Err(DecimalError::OutOfRange)
        );
        assert_eq!(
            canonical_decimal("1e-99999999999999999999999"),
            Err(DecimalError::OutOfRange)
        );
    }
}
