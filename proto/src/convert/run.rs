//! A run's scenario, settings and per-worker assignment, to and from the wire.

use std::time::Duration;

use stampede_common::run::{
    ArrivalShare, Assignment, HttpSettings, NetworkSettings, ProxySettings, RunSettings, TagFilter,
    TlsSettings, UserSlot,
};
use stampede_common::scenario::ScenarioSource;
use stampede_common::shape::{ArrivalShape, Rate, RateStage};

use super::error::ConvertError;
use crate::v1;

impl From<&RunSettings> for v1::RunSettings {
    fn from(s: &RunSettings) -> Self {
        Self {
            host: s.target.to_string(),
            insecure: s.tls.insecure,
            ca_cert_pem: s.tls.ca_cert_pem.clone().unwrap_or_default(),
            stop_timeout_ms: s.stop_timeout.as_millis() as u64,
            request_timeout_ms: s.request_timeout.as_millis() as u64,
            tags: s.tags.include.clone(),
            exclude_tags: s.tags.exclude.clone(),
            resolve: s.network.resolve.iter().map(ToString::to_string).collect(),
            source_ips: s
                .network
                .source_ips
                .iter()
                .map(ToString::to_string)
                .collect(),
            http_version: s.http.version.to_string(),
            h2_connections: s.http.h2_connections.map_or(0, |n| n.get()),
            no_tls_resumption: !s.http.tls_resumption,
            http_proxy: text(s.http.proxy.http.as_ref()),
            https_proxy: text(s.http.proxy.https.as_ref()),
            no_proxy: s.http.proxy.no_proxy.to_string(),
            max_body_bytes: s.http.max_body,
        }
    }
}

fn text(v: Option<&impl ToString>) -> String {
    v.map(ToString::to_string).unwrap_or_default()
}

impl TryFrom<v1::RunSettings> for RunSettings {
    type Error = ConvertError;

    fn try_from(s: v1::RunSettings) -> Result<Self, Self::Error> {
        if s.host.is_empty() {
            return Err(ConvertError::Missing("the target host"));
        }
        if s.request_timeout_ms == 0 {
            return Err(ConvertError::ZeroTimeout);
        }
        let http = http_settings(&s)?;
        Ok(Self {
            target: s.host.parse()?,
            tls: TlsSettings {
                insecure: s.insecure,
                ca_cert_pem: (!s.ca_cert_pem.is_empty()).then_some(s.ca_cert_pem),
            },
            request_timeout: Duration::from_millis(s.request_timeout_ms),
            stop_timeout: Duration::from_millis(s.stop_timeout_ms),
            tags: TagFilter {
                include: s.tags,
                exclude: s.exclude_tags,
            },
            network: NetworkSettings {
                resolve: s
                    .resolve
                    .iter()
                    .map(|r| r.parse().map_err(ConvertError::Network))
                    .collect::<Result<_, _>>()?,
                source_ips: s
                    .source_ips
                    .iter()
                    .map(|a| {
                        a.parse().map_err(|_| {
                            ConvertError::Network(format!("`{a}` is not an IP address"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            },
            http,
        })
    }
}

fn http_settings(s: &v1::RunSettings) -> Result<HttpSettings, ConvertError> {
    let bad = ConvertError::Network;
    let proxy = |t: &str| (!t.is_empty()).then(|| t.parse()).transpose().map_err(bad);
    Ok(HttpSettings {
        version: match s.http_version.as_str() {
            "" => Default::default(),
            v => v.parse().map_err(bad)?,
        },
        h2_connections: std::num::NonZeroU32::new(s.h2_connections),
        tls_resumption: !s.no_tls_resumption,
        max_body: match s.max_body_bytes {
            0 => stampede_common::run::DEFAULT_MAX_BODY,
            n => n,
        },
        proxy: ProxySettings {
            http: proxy(&s.http_proxy)?,
            https: proxy(&s.https_proxy)?,
            no_proxy: s.no_proxy.parse().map_err(bad)?,
        },
    })
}

/// The scenario as shipped to workers.
pub fn scenario_to_wire(src: &ScenarioSource) -> v1::Scenario {
    v1::Scenario {
        path: src.path.clone(),
        text: src.text.clone(),
        files: src.files.clone().into_iter().collect(),
    }
}

/// The scenario a worker received.
pub fn scenario_from_wire(s: v1::Scenario) -> ScenarioSource {
    ScenarioSource {
        path: s.path,
        text: s.text,
        files: s.files.into_iter().collect(),
    }
}

/// A worker's assignment in run `run_id`, as the master sends it.
pub fn assignment_to_wire(run_id: u64, a: &Assignment) -> v1::Spawn {
    match a {
        Assignment::Users { users, spawn_rate } => v1::Spawn {
            run_id,
            users: users
                .iter()
                .map(|u| v1::UserSlot {
                    index: u.index,
                    class: u.class as u32,
                })
                .collect(),
            spawn_rate: *spawn_rate,
            arrival: None,
        },
        Assignment::Arrival(share) => v1::Spawn {
            run_id,
            users: Vec::new(),
            spawn_rate: 0.0,
            arrival: Some(arrival_to_wire(share)),
        },
    }
}

/// A worker's assignment from the wire, for a scenario of `classes` user classes.
///
/// # Errors
///
/// A class the scenario does not have, a spawn rate that is not a number, or
/// an arrival shape that does not make a schedule.
pub fn assignment_from_wire(s: &v1::Spawn, classes: usize) -> Result<Assignment, ConvertError> {
    let a = match &s.arrival {
        Some(a) => Assignment::Arrival(arrival_from_wire(a)?),
        None if s.spawn_rate.is_nan() => return Err(ConvertError::SpawnRate(s.spawn_rate)),
        None => Assignment::Users {
            users: s
                .users
                .iter()
                .map(|u| UserSlot {
                    index: u.index,
                    class: u.class as usize,
                })
                .collect(),
            spawn_rate: s.spawn_rate,
        },
    };
    match a.max_class() {
        Some(class) if class >= classes => Err(ConvertError::UnknownClass { class, classes }),
        _ => Ok(a),
    }
}

fn arrival_to_wire(a: &ArrivalShare) -> v1::Arrival {
    v1::Arrival {
        elapsed_ms: a.elapsed.as_millis() as u64,
        start_milli: a.shape.start().milli(),
        stages: a
            .shape
            .stages()
            .iter()
            .map(|s| v1::RateStage {
                duration_ms: s.duration.as_millis() as u64,
                target_milli: s.target.milli(),
            })
            .collect(),
        max_users: a.max_users,
        first_index: a.first_index,
        classes: a
            .classes
            .iter()
            .map(|(class, weight)| v1::ClassWeight {
                class: *class as u32,
                weight: *weight,
            })
            .collect(),
    }
}

fn arrival_from_wire(a: &v1::Arrival) -> Result<ArrivalShare, ConvertError> {
    let stages = a
        .stages
        .iter()
        .map(|s| RateStage {
            duration: Duration::from_millis(s.duration_ms),
            target: Rate::from_milli(s.target_milli),
        })
        .collect();
    let shape = ArrivalShape::new(Rate::from_milli(a.start_milli), stages)
        .map_err(|e| ConvertError::Shape(e.to_string()))?;
    Ok(ArrivalShare {
        elapsed: Duration::from_millis(a.elapsed_ms),
        shape,
        max_users: a.max_users,
        first_index: a.first_index,
        classes: a
            .classes
            .iter()
            .map(|c| (c.class as usize, c.weight))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_bad_ones_are_refused() {
        let mut s = RunSettings::new("https://127.0.0.1:8443".parse().unwrap());
        s.tls.ca_cert_pem = Some(b"pem".to_vec());
        s.stop_timeout = Duration::from_millis(1500);
        s.network.resolve = vec!["a.test:443:[::1]".parse().unwrap()];
        s.network.source_ips = vec!["127.0.0.2".parse().unwrap()];
        s.http.version = stampede_common::run::HttpVersion::Http2;
        s.http.h2_connections = std::num::NonZeroU32::new(4);
        s.http.tls_resumption = false;
        s.http.max_body = 1234;
        s.http.proxy = ProxySettings::all("http://u:p@127.0.0.1:3128".parse().unwrap());
        s.http.proxy.no_proxy = "localhost,10.0.0.0/8".parse().unwrap();
        let wire = v1::RunSettings::from(&s);
        assert_eq!(wire.host, "https://127.0.0.1:8443");
        assert_eq!(RunSettings::try_from(wire.clone()).unwrap(), s);
        let bad_source = v1::RunSettings {
            source_ips: vec!["nowhere".into()],
            ..wire.clone()
        };
        assert_eq!(
            RunSettings::try_from(bad_source).unwrap_err().to_string(),
            "network settings: `nowhere` is not an IP address"
        );
        let no_host = v1::RunSettings {
            host: String::new(),
            ..wire.clone()
        };
        assert_eq!(
            RunSettings::try_from(no_host).unwrap_err().to_string(),
            "the target host is missing"
        );
        let zero = v1::RunSettings {
            request_timeout_ms: 0,
            ..wire.clone()
        };
        assert_eq!(
            RunSettings::try_from(zero).unwrap_err(),
            ConvertError::ZeroTimeout
        );
        let ftp = v1::RunSettings {
            host: "ftp://x".into(),
            ..wire
        };
        assert!(RunSettings::try_from(ftp).is_err());
    }

    #[test]
    fn assignments_round_trip() {
        let users = Assignment::Users {
            users: vec![
                UserSlot { index: 3, class: 1 },
                UserSlot { index: 4, class: 0 },
            ],
            spawn_rate: 2.5,
        };
        let wire = assignment_to_wire(9, &users);
        assert_eq!(wire.run_id, 9);
        assert_eq!(assignment_from_wire(&wire, 2).unwrap(), users);
        let shape: ArrivalShape = "10s:5/s,20s:0/s".parse().unwrap();
        let arrival = Assignment::Arrival(ArrivalShare {
            elapsed: Duration::from_millis(1200),
            shape,
            max_users: 7,
            first_index: 100,
            classes: vec![(0, 3), (1, 1)],
        });
        let wire = assignment_to_wire(9, &arrival);
        assert_eq!(assignment_from_wire(&wire, 2).unwrap(), arrival);
    }

    #[test]
    fn a_class_the_scenario_lacks_is_an_error() {
        let users = Assignment::Users {
            users: vec![UserSlot { index: 0, class: 5 }],
            spawn_rate: 1.0,
        };
        let e = assignment_from_wire(&assignment_to_wire(1, &users), 2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the assignment names user class 5, but the scenario has 2"
        );
        let mut wire = assignment_to_wire(1, &users);
        wire.spawn_rate = f64::NAN;
        assert!(assignment_from_wire(&wire, 9).is_err());
        let arrival = v1::Spawn {
            run_id: 1,
            users: vec![],
            spawn_rate: 0.0,
            arrival: Some(v1::Arrival {
                elapsed_ms: 0,
                start_milli: 1000,
                stages: vec![v1::RateStage {
                    duration_ms: 1000,
                    target_milli: 1000,
                }],
                max_users: 1,
                first_index: 0,
                classes: vec![v1::ClassWeight {
                    class: 2,
                    weight: 1,
                }],
            }),
        };
        assert!(matches!(
            assignment_from_wire(&arrival, 2),
            Err(ConvertError::UnknownClass { class: 2, .. })
        ));
        let mut no_stage = arrival.clone();
        no_stage.arrival.as_mut().unwrap().stages.clear();
        assert!(matches!(
            assignment_from_wire(&no_stage, 3),
            Err(ConvertError::Shape(_))
        ));
    }
}
