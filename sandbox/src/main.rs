//! `sf2hs-sandbox`: serves the HubSpot stand-in (or, with `--salesforce`, the Salesforce one)
//! until Ctrl-C. Arguments are parsed with std only, to keep the binary light.

use std::collections::BTreeSet;
use std::process::ExitCode;

use sf2hs_sandbox::hubspot::{
    HubSpotSandbox, OAuthClient, RateLimitConfig, SandboxConfig, StaticToken,
};
use sf2hs_sandbox::salesforce::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_JWT_CONSUMER_KEY, SalesforceConfig,
    SalesforceSandbox, TEST_JWT_USERNAME,
};

const USAGE: &str = "\
sf2hs-sandbox: a strict HubSpot CRM API stand-in on 127.0.0.1

Options:
  --port N                     port to bind (default 0 = any free port)
  --portal-id N                HubSpot portal id (default 7878787)
  --token T                    accepted static token with all scopes (repeatable;
                               replaces the default token)
  --scoped-token T=S1,S2       accepted static token with only these scopes (repeatable)
  --oauth-client ID:SECRET:REFRESH
                               OAuth app whose refresh token /oauth/v1/token redeems
  --rate-limit MAX/INTERVAL_MS rolling window (default 190/10000)
  --secondly-limit N           optional SECONDLY limit
  --daily-limit N              daily budget (default 1000000)
  --seed N                     seed for the result shuffle and fault draws (default 0)
  --fault-429 R --fault-500 R --fault-502 R --fault-503 R
  --fault-500-rate-limits R --fault-hang R --fault-apply-then-fail R
                               fraction (0..1) of API requests given each fault
  --latency-ms N               fixed delay added to every API request
  --hang-ms N                  how long a hang lasts (default 60000)
  --help

sf2hs-sandbox --salesforce [options]: the Salesforce stand-in instead
  --port N --seed N            as above
  --daily-api-limit N          daily API allowance (default 100000)
  --token-lifetime-secs N      access-token lifetime (default 7200)
  --fault-500 R --fault-503 R --latency-ms N
                               injected faults, as above
  Define objects with POST /_sandbox/objects, records with POST /_sandbox/records/{Object}.
";

fn parse<T: std::str::FromStr>(flag: &str, value: Option<String>) -> Result<T, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    value
        .parse()
        .map_err(|_| format!("{flag}: cannot parse \"{value}\""))
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Option<SandboxConfig>, String> {
    let mut config = SandboxConfig::default();
    let mut tokens: Vec<StaticToken> = Vec::new();
    let mut oauth: Vec<OAuthClient> = Vec::new();
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--port" => config.port = parse(&flag, args.next())?,
            "--portal-id" => config.portal_id = parse(&flag, args.next())?,
            "--seed" => config.seed = parse(&flag, args.next())?,
            "--token" => tokens.push(StaticToken {
                token: parse(&flag, args.next())?,
                scopes: None,
            }),
            "--scoped-token" => {
                let raw: String = parse(&flag, args.next())?;
                let (token, scopes) = raw
                    .split_once('=')
                    .ok_or("--scoped-token takes TOKEN=SCOPE1,SCOPE2")?;
                tokens.push(StaticToken {
                    token: token.to_string(),
                    scopes: Some(
                        scopes
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect::<BTreeSet<_>>(),
                    ),
                });
            }
            "--oauth-client" => {
                let raw: String = parse(&flag, args.next())?;
                let parts: Vec<&str> = raw.splitn(3, ':').collect();
                let [id, secret, refresh] = parts.as_slice() else {
                    return Err("--oauth-client takes ID:SECRET:REFRESH".into());
                };
                oauth.push(OAuthClient {
                    client_id: (*id).to_string(),
                    client_secret: (*secret).to_string(),
                    refresh_tokens: vec![(*refresh).to_string()],
                    scopes: None,
                    rotates_refresh_tokens: false,
                });
            }
            "--rate-limit" => {
                let raw: String = parse(&flag, args.next())?;
                let (max, interval) = raw
                    .split_once('/')
                    .ok_or("--rate-limit takes MAX/INTERVAL_MS")?;
                config.rate_limit = RateLimitConfig {
                    max: parse(&flag, Some(max.to_string()))?,
                    interval_ms: parse(&flag, Some(interval.to_string()))?,
                    ..config.rate_limit
                };
            }
            "--secondly-limit" => config.rate_limit.secondly = Some(parse(&flag, args.next())?),
            "--daily-limit" => config.rate_limit.daily = parse(&flag, args.next())?,
            "--fault-429" => config.faults.rate_429 = parse(&flag, args.next())?,
            "--fault-500" => config.faults.rate_500 = parse(&flag, args.next())?,
            "--fault-502" => config.faults.rate_502 = parse(&flag, args.next())?,
            "--fault-503" => config.faults.rate_503 = parse(&flag, args.next())?,
            "--fault-500-rate-limits" => {
                config.faults.rate_500_rate_limits = parse(&flag, args.next())?
            }
            "--fault-hang" => config.faults.rate_hang = parse(&flag, args.next())?,
            "--fault-apply-then-fail" => {
                config.faults.rate_apply_then_fail = parse(&flag, args.next())?
            }
            "--latency-ms" => config.faults.latency_ms = parse(&flag, args.next())?,
            "--hang-ms" => config.faults.hang_ms = parse(&flag, args.next())?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !tokens.is_empty() {
        config.static_tokens = tokens;
    }
    if !oauth.is_empty() {
        config.oauth_clients = oauth;
    }
    Ok(Some(config))
}

fn parse_salesforce_args(
    args: impl Iterator<Item = String>,
) -> Result<Option<SalesforceConfig>, String> {
    let mut config = SalesforceConfig::default();
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--port" => config.port = parse(&flag, args.next())?,
            "--seed" => config.seed = parse(&flag, args.next())?,
            "--daily-api-limit" => config.daily_api_limit = parse(&flag, args.next())?,
            "--token-lifetime-secs" => {
                config.token_lifetime = std::time::Duration::from_secs(parse(&flag, args.next())?)
            }
            "--fault-500" => config.faults.rate_500 = parse(&flag, args.next())?,
            "--fault-503" => config.faults.rate_503 = parse(&flag, args.next())?,
            "--latency-ms" => config.faults.latency_ms = parse(&flag, args.next())?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Some(config))
}

async fn serve_salesforce(args: impl Iterator<Item = String>) -> ExitCode {
    let config = match parse_salesforce_args(args) {
        Ok(Some(config)) => config,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("sf2hs-sandbox: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let sandbox = match SalesforceSandbox::start(config).await {
        Ok(sandbox) => sandbox,
        Err(e) => {
            eprintln!("sf2hs-sandbox: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", sandbox.base_url());
    println!("client credentials: {DEFAULT_CLIENT_ID} / {DEFAULT_CLIENT_SECRET}");
    println!("jwt bearer: iss={DEFAULT_JWT_CONSUMER_KEY} sub={TEST_JWT_USERNAME} (test key)");
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("sf2hs-sandbox: {e}");
        return ExitCode::FAILURE;
    }
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("--salesforce") {
        args.next();
        return serve_salesforce(args).await;
    }
    let config = match parse_args(args) {
        Ok(Some(config)) => config,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("sf2hs-sandbox: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let tokens: Vec<String> = config
        .static_tokens
        .iter()
        .map(|t| t.token.clone())
        .collect();
    let sandbox = match HubSpotSandbox::start(config).await {
        Ok(sandbox) => sandbox,
        Err(e) => {
            eprintln!("sf2hs-sandbox: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    // One line a wrapper script can read to find the port.
    println!("listening on {}", sandbox.base_url());
    println!("tokens: {}", tokens.join(", "));
    match sandbox.serve_until_ctrl_c().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sf2hs-sandbox: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(raw: &[&str]) -> impl Iterator<Item = String> {
        raw.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn parses_flags() {
        let config = parse_args(args(&[
            "--port",
            "8080",
            "--rate-limit",
            "100/5000",
            "--seed",
            "9",
            "--fault-503",
            "0.25",
            "--token",
            "pat-x",
        ]))
        .ok()
        .flatten();
        let Some(config) = config else {
            panic!("flags should parse");
        };
        assert_eq!(config.port, 8080);
        assert_eq!(config.rate_limit.max, 100);
        assert_eq!(config.rate_limit.interval_ms, 5000);
        assert_eq!(config.seed, 9);
        assert_eq!(config.faults.rate_503, 0.25);
        assert_eq!(config.static_tokens[0].token, "pat-x");
    }

    #[test]
    fn parses_salesforce_flags() {
        let config =
            parse_salesforce_args(args(&["--daily-api-limit", "50", "--fault-503", "0.1"]))
                .ok()
                .flatten();
        let Some(config) = config else {
            panic!("flags should parse");
        };
        assert_eq!(config.daily_api_limit, 50);
        assert_eq!(config.faults.rate_503, 0.1);
        assert!(parse_salesforce_args(args(&["--rate-limit", "1/1"])).is_err());
    }

    #[test]
    fn rejects_unknown_flags() {
        assert!(parse_args(args(&["--nope"])).is_err());
        assert!(parse_args(args(&["--rate-limit", "100"])).is_err());
    }
}
