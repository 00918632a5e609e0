//! The one test harness of every test that starts a cluster:
//! [`Cluster::builder`] makes a real master (gRPC on 127.0.0.1 port 0, the
//! listener handed over) with in-process workers attached over real gRPC and
//! the shop target; [`ShopTarget`] and [`standalone`] serve the tests of the
//! standalone path (master and workers in one process, as `stampede run`).
//! Also: plans of inline scenarios, a TCP proxy that can cut a worker off
//! its master, and `wait_until` with a deadline for readiness instead of
//! sleeps.

#![allow(dead_code)]

pub mod flows;
pub mod ui;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use stampede_common::run::RunSettings;
use stampede_common::scenario::ScenarioSource;
use stampede_master::cluster::{self, ClusterView, MasterConfig, MasterHandle, WorkerState};
use stampede_master::report::{RunReport, StopReason};
use stampede_master::run::{LoadModel, RunPlan, RunTemplate};
use stampede_master::standalone::{run_standalone, start_local_cluster};
use stampede_master::tasks::Tasks;
use stampede_proto::v1::{self, coordinator_client::CoordinatorClient};
use stampede_shop::{Shop, ShopConfig};
use stampede_worker::agent::{AgentConfig, AgentError, AgentStatus, Backoff, run_agent};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Polls `check` every 20 ms until it holds; panics after `timeout`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A TCP proxy that can cut every connection and refuse new ones, then restore.
pub struct CutProxy {
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
    cut_now: Arc<Notify>,
}

impl CutProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let cut_now = Arc::new(Notify::new());
        let (c, n) = (cut.clone(), cut_now.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if c.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let n = n.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = n.notified() => {}
                    }
                });
            }
        });
        Self { addr, cut, cut_now }
    }

    /// Drops every proxied connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.cut_now.notify_waiters();
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

pub struct TestWorker {
    pub id: String,
    pub stop: CancellationToken,
    pub task: JoinHandle<Result<(), AgentError>>,
    pub status: watch::Receiver<AgentStatus>,
    pub proxy: Option<CutProxy>,
}

/// The shop target on 127.0.0.1 port 0, stopped on drop.
pub struct ShopTarget {
    pub shop: Shop,
    pub addr: SocketAddr,
    stop: CancellationToken,
}

impl ShopTarget {
    pub async fn start(cfg: ShopConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shop = Shop::new(cfg);
        let stop = CancellationToken::new();
        tokio::spawn(shop.clone().serve(listener, stop.clone().cancelled_owned()));
        Self { shop, addr, stop }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn served(&self) -> u64 {
        self.shop.stats().served
    }
}

impl Drop for ShopTarget {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub struct Cluster {
    pub master: MasterHandle,
    pub addr: SocketAddr,
    pub token: String,
    pub target: ShopTarget,
    pub shop: Shop,
    pub shop_url: String,
    pub workers: Vec<TestWorker>,
    tasks: Tasks,
    stop: CancellationToken,
}

pub const TOKEN: &str = "test-cluster-token";

/// A worker configuration with quick reconnects, for tests.
pub fn agent_config(
    url: String,
    token: &str,
    id: &str,
) -> (AgentConfig, watch::Receiver<AgentStatus>) {
    let mut cfg = AgentConfig::new(url, token, id);
    cfg.backoff =
        Backoff::try_new(Duration::from_millis(50), Duration::from_millis(300), 0.2).unwrap();
    let (tx, rx) = watch::channel(AgentStatus::default());
    cfg.status = Some(tx);
    (cfg, rx)
}

/// A plan for an inline scenario against `host` (its `arrival_rate` or
/// `stages`, if any), without a run time.
pub fn plan(yaml: &str, host: &str, users: u64, spawn_rate: f64) -> RunPlan {
    plan_of(
        ScenarioSource::from_text("cluster-test.yaml", yaml),
        host,
        users,
        spawn_rate,
    )
}

/// A plan for `source` against `host`.
pub fn plan_of(source: ScenarioSource, host: &str, users: u64, spawn_rate: f64) -> RunPlan {
    let scenario = Arc::new(
        source
            .compile()
            .unwrap_or_else(|e| panic!("{}", e.render())),
    );
    let load = match (&scenario.arrival, &scenario.stages, &scenario.shape) {
        (Some(a), _, _) => LoadModel::Arrival(a.clone()),
        (None, Some(st), _) => LoadModel::Stages(st.clone()),
        (None, None, Some(f)) => LoadModel::Code(f.clone()),
        (None, None, None) => LoadModel::Users,
    };
    let mut settings = RunSettings::new(host.parse().unwrap());
    settings.request_timeout = Duration::from_secs(10);
    RunPlan {
        users: if matches!(load, LoadModel::Stages(_) | LoadModel::Code(_)) {
            0
        } else {
            users
        },
        load,
        thresholds: scenario.thresholds.clone(),
        source,
        scenario,
        spawn_rate,
        classes: Vec::new(),
        settings,
        run_time: None,
    }
}

/// A web UI template whose defaults are `plan`'s.
pub fn template(plan: RunPlan) -> RunTemplate {
    RunTemplate {
        target: Some(plan.settings.target.clone()),
        tls: plan.settings.tls.clone(),
        request_timeout: plan.settings.request_timeout,
        stop_timeout: plan.settings.stop_timeout,
        tags: plan.settings.tags.clone(),
        network: plan.settings.network.clone(),
        http: plan.settings.http.clone(),
        users: plan.users,
        spawn_rate: plan.spawn_rate,
        classes: plan.classes,
        run_time: plan.run_time,
        load: plan.load,
        thresholds: plan.thresholds,
        source: plan.source,
        scenario: plan.scenario,
    }
}

/// Runs `plan` as `stampede run` does: a master and `workers` in-process
/// workers in this process, until the plan ends or `shutdown`.
pub async fn standalone(
    plan: RunPlan,
    workers: usize,
    shutdown: CancellationToken,
) -> Arc<RunReport> {
    standalone_with_metrics(plan, workers, None, shutdown).await
}

/// [`standalone`], serving Prometheus metrics on `metrics` during the run.
pub async fn standalone_with_metrics(
    plan: RunPlan,
    workers: usize,
    metrics: Option<TcpListener>,
    shutdown: CancellationToken,
) -> Arc<RunReport> {
    let tasks = Tasks::new();
    let local = start_local_cluster(workers, &tasks).await.unwrap();
    if let Some(l) = metrics {
        stampede_master::metrics::serve(l, local.handle.clone(), &tasks);
    }
    let report = run_standalone(&local, plan, Default::default(), shutdown)
        .await
        .unwrap();
    assert!(
        tasks.shutdown(Duration::from_secs(10)).await,
        "the standalone run's tasks all end"
    );
    report
}

/// How a test cluster is made.
pub struct ClusterBuilder {
    workers: usize,
    config: MasterConfig,
    shop: ShopConfig,
}

impl ClusterBuilder {
    /// This many workers, `w0`, `w1`, ... (waits until they are connected).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// The master's configuration (token, TLS, timing).
    pub fn config(mut self, cfg: MasterConfig) -> Self {
        self.config = cfg;
        self
    }

    /// The shop target's configuration.
    pub fn shop(mut self, cfg: ShopConfig) -> Self {
        self.shop = cfg;
        self
    }

    pub async fn build(self) -> Cluster {
        let tasks = Tasks::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let token = self.config.token.clone();
        let master = cluster::start(listener, self.config, &tasks).unwrap();
        let target = ShopTarget::start(self.shop).await;
        let mut c = Cluster {
            master,
            addr,
            token,
            shop: target.shop.clone(),
            shop_url: target.url(),
            target,
            workers: Vec::new(),
            stop: tasks.child_token(),
            tasks,
        };
        for i in 0..self.workers {
            c.add_worker(&format!("w{i}"), false).await;
        }
        c.wait_connected(self.workers).await;
        c
    }
}

impl Cluster {
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder {
            workers: 0,
            config: MasterConfig {
                token: TOKEN.into(),
                ..MasterConfig::default()
            },
            shop: ShopConfig::default(),
        }
    }

    /// A master with the test token, the shop, and `workers` workers.
    pub async fn start(workers: usize) -> Self {
        Self::builder().workers(workers).build().await
    }

    /// Adds a worker, directly or through a cuttable proxy.
    pub async fn add_worker(&mut self, id: &str, via_proxy: bool) -> usize {
        let proxy = if via_proxy {
            Some(CutProxy::start(self.addr).await)
        } else {
            None
        };
        let target = proxy.as_ref().map_or(self.addr, |p| p.addr);
        let (cfg, status) = agent_config(format!("http://{target}"), &self.token, id);
        self.add_agent(id, cfg, status, proxy)
    }

    pub fn add_agent(
        &mut self,
        id: &str,
        cfg: AgentConfig,
        status: watch::Receiver<AgentStatus>,
        proxy: Option<CutProxy>,
    ) -> usize {
        let stop = self.stop.child_token();
        let task = tokio::spawn(run_agent(cfg, stop.clone()));
        self.workers.push(TestWorker {
            id: id.into(),
            stop,
            task,
            status,
            proxy,
        });
        self.workers.len() - 1
    }

    pub async fn wait_connected(&self, n: usize) {
        let m = self.master.clone();
        wait_until(
            &format!("{n} workers are connected"),
            Duration::from_secs(10),
            || {
                let m = m.clone();
                async move { m.connected() >= n }
            },
        )
        .await;
    }

    /// A plan for an inline scenario against the shop.
    pub fn plan(&self, yaml: &str, users: u64, spawn_rate: f64) -> RunPlan {
        plan(yaml, &self.shop_url, users, spawn_rate)
    }

    /// Stops the run and waits for its report (with a deadline).
    pub async fn stop(&self) -> Arc<RunReport> {
        tokio::time::timeout(
            Duration::from_secs(30),
            self.master.stop(StopReason::Interrupted),
        )
        .await
        .expect("the run stops within 30 s")
        .unwrap()
    }

    /// The cluster's task tree (for servers a test adds).
    pub fn tasks(&self) -> &Tasks {
        &self.tasks
    }

    pub async fn view(&self) -> ClusterView {
        self.master.view().await.unwrap()
    }

    /// Waits until the live workers hold exactly these user counts (by id).
    pub async fn wait_users(&self, want: &[(&str, u64)]) {
        let want: Vec<(String, u64)> = want.iter().map(|(id, n)| (id.to_string(), *n)).collect();
        let m = self.master.clone();
        wait_until(
            &format!("workers hold {want:?}"),
            Duration::from_secs(20),
            || {
                let (m, want) = (m.clone(), want.clone());
                async move {
                    let v = m.view().await.unwrap();
                    want.iter().all(|(id, n)| {
                        v.workers.iter().any(|w| {
                            &w.id == id && w.users == *n && w.state == WorkerState::Running
                        })
                    })
                }
            },
        )
        .await;
    }

    pub async fn wait_state(&self, id: &str, state: WorkerState, timeout: Duration) {
        let m = self.master.clone();
        let id = id.to_owned();
        wait_until(&format!("worker {id} is {state:?}"), timeout, || {
            let (m, id, state) = (m.clone(), id.clone(), state.clone());
            async move {
                m.view()
                    .await
                    .unwrap()
                    .workers
                    .iter()
                    .any(|w| w.id == id && w.state == state)
            }
        })
        .await;
    }

    pub async fn wait_served(&self, n: u64) {
        let shop = self.shop.clone();
        wait_until(
            &format!("the shop served {n} requests"),
            Duration::from_secs(20),
            || {
                let shop = shop.clone();
                async move { shop.stats().served >= n }
            },
        )
        .await;
    }

    pub fn served(&self) -> u64 {
        self.shop.stats().served
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.tasks.token().cancel();
    }
}

/// Waits until a worker's own status satisfies `check`.
pub async fn wait_status(w: &TestWorker, what: &str, check: impl Fn(&AgentStatus) -> bool) {
    let mut rx = w.status.clone();
    tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|s| check(s)))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "timed out waiting until worker {} {what}: {:?}",
                w.id,
                *w.status.borrow()
            )
        })
        .unwrap();
}

/// A worker of the test's own making: a gRPC stream to the master that has
/// said hello as `id` with `version`, for the test to send what it likes.
pub async fn raw_attach(
    c: &Cluster,
    id: &str,
    version: u32,
) -> (
    mpsc::Sender<v1::WorkerMessage>,
    Result<tonic::Streaming<v1::MasterMessage>, tonic::Status>,
) {
    let mut client = CoordinatorClient::connect(format!("http://{}", c.addr))
        .await
        .unwrap();
    let (tx, rx) = mpsc::channel(8);
    let hello = v1::Hello {
        worker_id: id.into(),
        protocol_version: version,
        cores: 1,
        hostname: id.into(),
        token: TOKEN.into(),
    };
    tx.send(v1::WorkerMessage {
        kind: Some(v1::worker_message::Kind::Hello(hello)),
    })
    .await
    .unwrap();
    let res = client
        .attach(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .map(|r| r.into_inner());
    (tx, res)
}
