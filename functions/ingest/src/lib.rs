//! The ingest function: Salesforce Outbound Messages through a Lambda Function URL (or an API
//! Gateway HTTP API, whose payload 2.0 has the same shape), and CDC / platform events through
//! EventBridge. The work is `sf2hs_shared::ingest`; this crate only turns Lambda events into
//! its calls and its answers back into Lambda responses.

use std::sync::Arc;

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use aws_lambda_events::http::{HeaderMap, HeaderValue, header};
use chrono::Utc;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use sf2hs_shared::aws::{AwsConnection, Deployment};
use sf2hs_shared::ingest::{self, HttpAnswer, IngestSettings, ResyncRequests};
use sf2hs_shared::ports::ChangeQueue;
use sf2hs_shared::salesforce::intake::soap::FaultCode;
use sf2hs_shared::settings::{self, Lookup};

/// The path the outbound-message endpoint lives under: `/outbound/<token>`.
pub const OUTBOUND_PATH_PREFIX: &str = "/outbound/";

/// The function's state, built once per execution environment.
pub struct IngestFunction {
    pub settings: IngestSettings,
    pub queue: Arc<dyn ChangeQueue>,
    /// Where re-syncs Salesforce asks for go (an import job, continued on the import queue);
    /// `None` without `SF2HS_IMPORT_QUEUE`, and they are only logged.
    pub resyncs: Option<sf2hs_shared::import::ResyncJobs>,
}

/// Builds the function from the environment the SAM template sets (`endpoint`: moto's, in
/// tests).
pub async fn from_env(lookup: Lookup<'_>, endpoint: Option<&str>) -> Result<IngestFunction, Error> {
    from_connection(lookup, AwsConnection::for_endpoint(endpoint).await).await
}

/// The same on a connection of the caller's (tests record its AWS requests).
pub async fn from_connection(
    lookup: Lookup<'_>,
    connection: AwsConnection,
) -> Result<IngestFunction, Error> {
    // Under Lambda, refusals become the `sf2hs/Refusals` metric through the log.
    sf2hs_shared::metrics::emit_emf(lookup("AWS_LAMBDA_FUNCTION_NAME").is_some());
    let deployment = Deployment::with_connection(connection, lookup).await?;
    let settings = settings::ingest_settings(lookup, deployment.secrets.clone()).await?;
    let resyncs = deployment.resyncs(lookup).await?;
    Ok(IngestFunction {
        settings,
        queue: deployment.queue.clone(),
        resyncs,
    })
}

/// What an invocation carried.
enum Invocation {
    Http(Box<LambdaFunctionUrlRequest>),
    Event(Value),
}

fn classify(payload: Value) -> Result<Invocation, Error> {
    if payload.get("requestContext").is_some() {
        let request: LambdaFunctionUrlRequest = serde_json::from_value(payload)
            .map_err(|e| format!("not a Function URL / HTTP API request: {e}"))?;
        return Ok(Invocation::Http(Box::new(request)));
    }
    if payload.get("detail-type").is_some() && payload.get("detail").is_some() {
        return Ok(Invocation::Event(payload));
    }
    Err(
        "the ingest function takes Function URL / HTTP API requests (outbound messages) and \
         EventBridge events (CDC, platform events); this invocation is neither"
            .into(),
    )
}

impl IngestFunction {
    /// One invocation. An HTTP request always gets an answer (a SOAP fault when refused); an
    /// EventBridge event fails the invocation when its changes could not all be queued, so
    /// that it is delivered again.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        match classify(event.payload)? {
            Invocation::Http(request) => {
                let response = self.outbound(&request).await;
                Ok(serde_json::to_value(response)?)
            }
            Invocation::Event(event) => {
                let ingested = ingest::change_event(
                    &self.settings,
                    self.queue.as_ref(),
                    self.resyncs.as_ref().map(|r| r as &dyn ResyncRequests),
                    &event,
                    Utc::now(),
                )
                .await?;
                Ok(ingested.to_json())
            }
        }
    }

    async fn outbound(&self, request: &LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
        let path = request.raw_path.as_deref().unwrap_or("/");
        let token = path
            .strip_prefix(OUTBOUND_PATH_PREFIX)
            .map(|t| t.trim_end_matches('/'))
            .filter(|t| !t.is_empty() && !t.contains('/'));
        let body = match decode_body(request) {
            Ok(body) => body,
            Err(reason) => {
                return respond(HttpAnswer::fault(400, FaultCode::Client, &reason));
            }
        };
        let answer = ingest::outbound_message(
            &self.settings,
            self.queue.as_ref(),
            token,
            &body,
            Utc::now(),
        )
        .await;
        respond(answer)
    }
}

fn decode_body(request: &LambdaFunctionUrlRequest) -> Result<Vec<u8>, String> {
    let body = request.body.as_deref().unwrap_or("");
    if request.is_base64_encoded {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(body.trim())
            .map_err(|e| format!("the request body is not valid base64 ({e})"))
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

fn respond(answer: HttpAnswer) -> LambdaFunctionUrlResponse {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = i64::from(answer.status);
    response.headers = headers;
    response.body = Some(answer.body);
    response.is_base64_encoded = false;
    response
}
