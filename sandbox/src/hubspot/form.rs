//! `application/x-www-form-urlencoded` decoding (OAuth bodies, query strings), std only.

use std::collections::HashMap;

/// Every `key=value` pair in order, repeated keys kept (`properties=a&properties=b`).
pub fn parse_pairs(raw: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(raw)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// The pairs as a map; a repeated key keeps its last value.
pub fn parse_form(body: &[u8]) -> HashMap<String, String> {
    parse_pairs(body).into_iter().collect()
}
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let form = parse_form(b"grant_type=refresh_token&client_id=a%2Bb&x=1+2&bad=%zz");
        assert_eq!(form["grant_type"], "refresh_token");
        assert_eq!(form["client_id"], "a+b");
        assert_eq!(form["x"], "1 2");
        assert_eq!(form["bad"], "%zz");
    }
}
