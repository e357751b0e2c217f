//! A Lambda Function URL in front of a function: every HTTP request becomes the payload 2.0
//! event a Function URL sends, and the function's answer becomes the HTTP response (a failed
//! invocation is a 502, as a Function URL answers it).

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

type Invoke = Arc<
    dyn Fn(Value) -> std::pin::Pin<Box<dyn Future<Output = Result<Value, String>> + Send>>
        + Send
        + Sync,
>;

/// A served Function URL; stops when dropped.
pub struct FunctionUrl {
    base_url: String,
    server: tokio::task::JoinHandle<()>,
}

impl FunctionUrl {
    pub async fn serve<F, Fut>(invoke: F) -> Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, String>> + Send + 'static,
    {
        let invoke: Invoke = Arc::new(move |event| Box::pin(invoke(event)));
        let app = Router::new().fallback(handle).with_state(invoke);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FunctionUrl { base_url, server }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

impl Drop for FunctionUrl {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The Function URL event (payload format 2.0) of one request.
pub fn event(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Value {
    let header_map: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                Value::String(v.to_str().unwrap_or_default().to_owned()),
            )
        })
        .collect();
    let text = std::str::from_utf8(body);
    let (body, is_base64) = match text {
        Ok(text) => (text.to_owned(), false),
        Err(_) => {
            use base64::Engine as _;
            (base64::engine::general_purpose::STANDARD.encode(body), true)
        }
    };
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": uri.path(),
        "rawQueryString": uri.query().unwrap_or(""),
        "headers": header_map,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": "local.lambda-url.us-east-1.on.aws",
            "domainPrefix": "local",
            "http": { "method": method.as_str(), "path": uri.path(), "protocol": "HTTP/1.1",
                      "sourceIp": "127.0.0.1", "userAgent": "sf2hs-tests" },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Dec/2026:00:00:00 +0000",
            "timeEpoch": 0
        },
        "body": body,
        "isBase64Encoded": is_base64
    })
}

async fn handle(
    State(invoke): State<Invoke>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match invoke(event(&method, &uri, &headers, &body)).await {
        Err(e) => (StatusCode::BAD_GATEWAY, e).into_response(),
        Ok(answer) => {
            let status = answer["statusCode"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK);
            let content_type = answer["headers"]["content-type"]
                .as_str()
                .unwrap_or("application/json")
                .to_owned();
            let body = answer["body"].as_str().unwrap_or_default().to_owned();
            (status, [("content-type", content_type)], body).into_response()
        }
    }
}
