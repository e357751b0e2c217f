//! Who may use the console, and from where a change may be asked for.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sf2hs_shared::ingest::{CredentialRefused, EndpointToken};
use sf2hs_shared::salesforce::intake::auth;

use super::Console;

/// How the console authenticates.
#[derive(Clone)]
pub enum ConsoleAuth {
    /// `sf2hs console` on a loopback address: the machine's user is the operator.
    None,
    /// The endpoint token as the basic-auth password (any user name), as `/events` takes it: a
    /// browser asks for it once.
    Token(EndpointToken),
}

/// Checks the credential, and that a POST comes from the console's own pages.
pub async fn guard(State(console): State<Arc<Console>>, request: Request, next: Next) -> Response {
    if let ConsoleAuth::Token(token) = &console.auth {
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match token
            .check(|expected| auth::check_events_credential(None, authorization, expected))
            .await
        {
            Ok(()) => {}
            Err(CredentialRefused::Refused(_)) => {
                sf2hs_shared::metrics::refused(sf2hs_shared::metrics::EntryPoint::Events, "token");
                return (
                    StatusCode::UNAUTHORIZED,
                    [(
                        header::WWW_AUTHENTICATE,
                        "Basic realm=\"sf2hs\", charset=\"UTF-8\"",
                    )],
                    "the console needs the endpoint token as the password (any user name)",
                )
                    .into_response();
            }
            Err(unavailable) => {
                return (StatusCode::SERVICE_UNAVAILABLE, unavailable.to_string()).into_response();
            }
        }
    }
    if request.method() == Method::POST && !same_origin(request.headers()) {
        return (
            StatusCode::FORBIDDEN,
            "the console takes changes only from its own pages",
        )
            .into_response();
    }
    next.run(request).await
}

/// `Sec-Fetch-Site` where the browser sends it (every current one), else `Origin` against
/// `Host`; a request with neither (a script, curl) is no browser's cross-site request.
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    match (text("origin"), text("host")) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest == host),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_consoles_own_pages_may_post() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut map = HeaderMap::new();
            for (k, v) in pairs {
                map.insert(*k, v.parse().expect("header"));
            }
            map
        };
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(same_origin(&headers(&[
            ("origin", "http://127.0.0.1:8090"),
            ("host", "127.0.0.1:8090")
        ])));
        assert!(!same_origin(&headers(&[
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:8090")
        ])));
        assert!(same_origin(&headers(&[])), "curl");
    }
}
