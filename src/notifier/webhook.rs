//! The webhook channel: the alert as JSON, POSTed to a URL the user set.

use std::time::Duration;

use crate::store::Alert;

const TIMEOUT: Duration = Duration::from_secs(5);

pub fn post(url: &str, alert: &Alert) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .build()
        .into();
    agent
        .post(url)
        .header("User-Agent", concat!("Tally/", env!("CARGO_PKG_VERSION")))
        .send_json(alert)
        .map(|_| ())
        .map_err(|e| format!("webhook {url}: {e}"))
}
