//! What the virtual users of one run on a worker share ([`Shared`]: the
//! scenario, the recorder, the HTTP client and the run's settings) and what
//! each owns ([`UserSession`]: its connection, cookies, headers and
//! variables). The user loop (`vu`) and the request step (`exchange`) both
//! work on these.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use minijinja::Value;
use stampede_common::scenario::model::Scenario;
use stampede_common::stats::Recorder;

use crate::http::{HttpClient, Session};
use crate::targets::UrlCache;

/// What every user of a worker shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub scenario: Arc<Scenario>,
    pub recorder: Arc<Recorder>,
    pub client: HttpClient,
    /// Base URL requests' paths are appended to.
    pub host: String,
    pub default_timeout: Duration,
    /// Request URLs, parsed once per distinct target.
    pub urls: UrlCache,
    /// Zero: stop at the next step boundary. Otherwise finish the current task.
    pub stop_timeout: Duration,
}

/// A user's browser-like state: connection, cookies, headers, variables.
#[derive(Debug)]
pub(crate) struct UserSession {
    pub session: Session,
    pub headers: HeaderMap,
    pub vars: BTreeMap<String, Value>,
    /// The `http_version` of the user's class, for its scripts' requests.
    pub http_version: Option<stampede_common::run::HttpVersion>,
}
