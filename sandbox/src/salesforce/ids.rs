//! Salesforce-shaped record ids: 3-character key prefix, pod, a base-62 sequence, and the
//! 3-character case-safe checksum (salesforce.md §5). The algorithm is written out again here
//! rather than taken from `sf2hs-shared`, so the stand-in checks sf2hs's version instead of
//! agreeing with it by construction.

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CHECKSUM_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// The checksum suffix of a 15-character id.
pub fn checksum(base15: &str) -> String {
    base15
        .as_bytes()
        .chunks(5)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_uppercase())
                .fold(0usize, |acc, (i, _)| acc | (1 << i));
            char::from(CHECKSUM_ALPHABET[bits])
        })
        .collect()
}

/// `prefix` (3) + `pod` (2) + `0` + 9 base-62 digits of `sequence`, then the checksum.
/// Base-62 in ASCII order keeps string order equal to creation order, as `ORDER BY Id` needs.
pub fn make_id(prefix: &str, pod: &str, sequence: u64) -> String {
    let mut digits = [b'0'; 9];
    let mut n = sequence;
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    let base = format!("{prefix}{pod}0{}", String::from_utf8_lossy(&digits));
    let sum = checksum(&base);
    format!("{base}{sum}")
}

/// The 18-character form of a 15- or 18-character id, or `None` when it is not an id
/// (wrong length, a non-alphanumeric character, or an 18-character id with a wrong checksum).
pub fn normalize(id: &str) -> Option<String> {
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    match id.len() {
        15 => Some(format!("{id}{}", checksum(id))),
        18 => {
            let expected = checksum(&id[..15]);
            id[15..]
                .eq_ignore_ascii_case(&expected)
                .then(|| format!("{}{expected}", &id[..15]))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(
            normalize("00558000001N0Ke").as_deref(),
            Some("00558000001N0KeAAK")
        );
        assert_eq!(
            normalize("003n000000NOtUbAAL").as_deref(),
            Some("003n000000NOtUbAAL")
        );
        assert_eq!(normalize("003n000000NOtUbAAA"), None);
        assert_eq!(normalize("short"), None);
    }

    #[test]
    fn generated_ids_are_valid_and_ordered() {
        let a = make_id("a01", "ak", 61);
        let b = make_id("a01", "ak", 62);
        assert_eq!(a.len(), 18);
        assert!(a < b);
        assert_eq!(normalize(&a).as_deref(), Some(a.as_str()));
    }
}
