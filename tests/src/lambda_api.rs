//! Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`) in front of one
//! function, so that a client using the real AWS SDK (the CLI, with `AWS_ENDPOINT_URL_LAMBDA`)
//! invokes it as it would on AWS: a synchronous invocation answers 200 with the function's
//! result, or 200 with `X-Amz-Function-Error: Unhandled` and the error document; an unknown
//! function is a 404 `ResourceNotFoundException`; `Event` invocations answer 202 and run later.
//!
//! <https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html>

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

type Invoke =
    Arc<dyn Fn(Value) -> Pin<Box<dyn Future<Output = Result<Value, String>> + Send>> + Send + Sync>;

struct Function {
    name: String,
    invoke: Invoke,
    /// Every payload received, in order.
    payloads: Mutex<Vec<Value>>,
}

/// A served Invoke API; stops when dropped.
pub struct LambdaApi {
    endpoint: String,
    function: Arc<Function>,
    server: tokio::task::JoinHandle<()>,
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-amzn-errortype",
        HeaderValue::from_str(kind).unwrap_or(HeaderValue::from_static("Error")),
    );
    (
        status,
        headers,
        json!({ "Type": "User", "message": message }).to_string(),
    )
        .into_response()
}

async fn invocations(
    State(function): State<Arc<Function>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The SDK sends the name, or an ARN ending in `:function:<name>`.
    let asked = name.rsplit(":function:").next().unwrap_or(&name);
    if asked != function.name {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {name}"),
        );
    }
    let payload: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(payload) => payload,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestContentException",
                    &format!("Could not parse request body into json: {e}"),
                );
            }
        }
    };
    function
        .payloads
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(payload.clone());
    let kind = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse");
    if kind == "Event" {
        let invoke = function.invoke.clone();
        tokio::spawn(async move {
            let _ = invoke(payload).await;
        });
        return StatusCode::ACCEPTED.into_response();
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    match (function.invoke)(payload).await {
        Ok(answer) => (StatusCode::OK, headers, answer.to_string()).into_response(),
        Err(message) => {
            headers.insert(
                "x-amz-function-error",
                HeaderValue::from_static("Unhandled"),
            );
            let document = json!({ "errorType": "Error", "errorMessage": message });
            (StatusCode::OK, headers, document.to_string()).into_response()
        }
    }
}

impl LambdaApi {
    /// Serves function `name`, whose invocations `invoke` answers.
    pub async fn serve<F, Fut>(name: &str, invoke: F) -> Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, String>> + Send + 'static,
    {
        let function = Arc::new(Function {
            name: name.to_owned(),
            invoke: Arc::new(move |payload| Box::pin(invoke(payload))),
            payloads: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route(
                "/2015-03-31/functions/{name}/invocations",
                post(invocations),
            )
            .with_state(function.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        LambdaApi {
            endpoint,
            function,
            server,
        }
    }

    /// The value of `AWS_ENDPOINT_URL_LAMBDA`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The payloads invoked so far.
    pub fn payloads(&self) -> Vec<Value> {
        self.function
            .payloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for LambdaApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}
