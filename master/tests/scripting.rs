//! Flows that need logic, against a real target on port 0 (support/flows.rs):
//! an HMAC-signed request with a per-session key, a listing paged until
//! `next` is null followed by a POST of a computed subset and sum, and a job
//! polled until done. Each runs as YAML control flow and as a scripted user
//! with zero failures, and the requests counted equal the target's own.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use stampede_common::scenario::ScenarioSource;
use support::flows::FlowTarget;
use tokio_util::sync::CancellationToken;

const SIGNING: &str = r#"
function sign(key, method, path, ts, body)
  return crypto.hmac("sha256", key, method .. "\n" .. path .. "\n" .. ts .. "\n" .. body)
end
"#;

const YAML_FLOW: &str = r#"
name: flows-yaml
scripts: [signing.luau]
users:
  - name: YamlFlow
    on_start:
      - post: /session
        extract:
          key: {jsonpath: $.key}
          session: {jsonpath: $.session}
    sequence:
      - group: signed echo
        steps:
          - set: {ts: "{{ timestamp_ms() }}", payload: '{"n":1}'}
          - post: /signed/echo
            headers:
              content-type: application/json
              x-session: "{{ session }}"
              x-timestamp: "{{ ts }}"
              x-signature: "{{ sign(key, 'POST', '/signed/echo', ts, payload) }}"
            body: "{{ payload }}"
      - set: {next: /items?page=1, ids: [], total: 0}
      - loop: {while: "next", max: 20}
        steps:
          - get: "{{ next }}"
            name: /items
            extract:
              page: {jsonpath: $.items}
              next: {jsonpath: $.next}
          - loop: {for_each: {in: "{{ page }}", as: item}, max: 100}
            steps:
              - if: "item.tag == 'keep'"
                then:
                  - set: {ids: "{{ ids + [item.id] }}", total: "{{ total + item.price }}"}
      - post: /orders
        json: {ids: "{{ ids }}", total: "{{ total }}"}
        expect: {status: 200, jsonpath: {$.status: accepted}}
      - post: /jobs
        extract: {job: {jsonpath: $.id}}
      - get: "/jobs/{{ job }}"
        name: /jobs/[id]
        retry: {attempts: 10, backoff: 5ms, until: "status == 'done'"}
        extract: {status: {jsonpath: $.status}}
"#;

const SCRIPTED_USER: &str = r#"
function on_start(user)
  local r = http.post("/session")
  check(r.ok, "no session: " .. tostring(r.error))
  user.key = r.json.key
  user.session = r.json.session
end

local function signed(user, method, path, body)
  local ts = tostring(math.floor(time.ms()))
  return http.request(method, path, {
    body = body,
    headers = {
      ["content-type"] = "application/json",
      ["x-session"] = user.session,
      ["x-timestamp"] = ts,
      ["x-signature"] = sign(user.key, method, path, ts, body),
    },
  })
end

function flow(user)
  check(signed(user, "POST", "/signed/echo", '{"n":1}').ok, "signature refused")
  local next, ids, total = "/items?page=1", {}, 0
  while next do
    local page = http.get(next, { name = "/items" })
    for _, item in page.json.items do
      if item.tag == "keep" then
        table.insert(ids, item.id)
        total += item.price
      end
    end
    next = page.json.next
  end
  local r = http.post("/orders", { json = { ids = ids, total = total } })
  check(r.ok and r.json.status == "accepted", "order refused")
  local job = http.post("/jobs").json.id
  for _ = 1, 10 do
    local s = http.get("/jobs/" .. job, { name = "/jobs/[id]" })
    if s.json.status == "done" then
      return
    end
    sleep(0.005)
  end
  fail("job never done")
end
"#;

const SCRIPTED_YAML: &str = r#"
name: flows-scripted
scripts: [signing.luau]
users:
  - name: ScriptedFlow
    script: flow.luau
"#;

fn source(yaml: &str) -> ScenarioSource {
    ScenarioSource {
        path: "flows.yaml".into(),
        text: yaml.into(),
        files: BTreeMap::from([
            ("signing.luau".to_owned(), SIGNING.to_owned()),
            ("flow.luau".to_owned(), SCRIPTED_USER.to_owned()),
        ]),
    }
}

/// Runs `yaml` for a few seconds with 4 users on 2 workers; checks zero
/// failures and that every request the target answered was counted.
async fn run_flow(yaml: &str) {
    let target = FlowTarget::start().await;
    let mut plan = support::plan_of(source(yaml), &target.url(), 4, 100.0);
    plan.run_time = Some(Duration::from_secs(3));
    let report = support::standalone(plan, 2, CancellationToken::new()).await;
    let c = target.counts();
    let snap = &report.snapshot;
    assert!(snap.failures.is_empty(), "failures: {:?}", snap.failures);
    assert!(
        snap.exceptions.is_empty(),
        "exceptions: {:?}",
        snap.exceptions
    );
    assert_eq!(
        c.refused.load(Ordering::Relaxed),
        0,
        "the target refused requests"
    );
    assert_eq!(
        report.stats.total().requests,
        c.served.load(Ordering::Relaxed),
        "requests counted = requests the target served"
    );
    for (what, n) in [
        ("signed requests", &c.signed_ok),
        ("orders", &c.orders_ok),
        ("jobs done", &c.jobs_done),
    ] {
        assert!(
            n.load(Ordering::Relaxed) >= 4,
            "{what}: {}",
            n.load(Ordering::Relaxed)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yaml_control_flow_signs_pages_sums_and_polls() {
    run_flow(YAML_FLOW).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_user_signs_pages_sums_and_polls() {
    run_flow(SCRIPTED_YAML).await;
}

const SHAPED: &str = r#"
name: shaped
script: |
  function shape(t)
    if t < 1.5 then
      return { users = 4, spawn_rate = 100 }
    elseif t < 3 then
      return { 10, 100 }
    end
    return nil
  end
shape: shape
users:
  - name: U
    wait: {constant: 20ms}
    sequence: [{get: /api/products/}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_shape_as_code_is_followed_by_two_workers_and_ends_the_run() {
    let c = support::Cluster::start(2).await;
    let id = c.master.start(c.plan(SHAPED, 1, 1.0)).await.unwrap();
    c.wait_users(&[("w0", 2), ("w1", 2)]).await;
    c.wait_users(&[("w0", 5), ("w1", 5)]).await;
    let report = tokio::time::timeout(Duration::from_secs(20), c.master.wait_finished(id))
        .await
        .expect("the shape ends the run")
        .unwrap();
    assert_eq!(report.reason, stampede_master::report::StopReason::RunTime);
    let targets: Vec<u64> = report
        .stats
        .history()
        .iter()
        .map(|p| p.target_users)
        .collect();
    assert!(targets.contains(&4) && targets.contains(&10), "{targets:?}");
    assert_eq!(report.snapshot.total.requests, c.served());
    assert_eq!(report.load.as_str(), "shape");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_load_shape_stops_the_run_with_its_reason() {
    let yaml = SHAPED.replace("return nil", "return { users = -1 }");
    let c = support::Cluster::start(1).await;
    let id = c.master.start(c.plan(&yaml, 1, 1.0)).await.unwrap();
    let report = tokio::time::timeout(Duration::from_secs(20), c.master.wait_finished(id))
        .await
        .expect("the run ends")
        .unwrap();
    assert_eq!(
        report.reason,
        stampede_master::report::StopReason::ShapeFailed
    );
}

const BAD_USER: &str = r#"
function good(user)
  check(http.get("/api/products/").ok, "listing failed")
end
function runaway(user)
  http.get("/api/products/1/", { name = "before the loop" })
  while true do end
end
function hog(user)
  local s = string.rep("x", 2^30)
end
function reader(user)
  return io.open("/etc/passwd")
end
tasks = { good = 3, runaway = 1, hog = 1, reader = 1 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_scripts_fail_their_iteration_with_a_message_and_lose_nothing() {
    let c = support::Cluster::start(2).await;
    let yaml = "name: bad\nscript_limits: {instructions: 100000, memory_mb: 64}\nusers:\n  - name: Bad\n    script: bad.luau\n  - name: BadStep\n    sequence:\n      - get: /api/products/\n      - script: \"while true do end\"\n";
    let src = ScenarioSource {
        path: "bad.yaml".into(),
        text: yaml.into(),
        files: BTreeMap::from([("bad.luau".to_owned(), BAD_USER.to_owned())]),
    };
    let mut plan = support::plan_of(src, &c.shop_url, 4, 100.0);
    plan.run_time = Some(Duration::from_secs(2));
    let id = c.master.start(plan).await.unwrap();
    let report = tokio::time::timeout(Duration::from_secs(30), c.master.wait_finished(id))
        .await
        .expect("the run ends")
        .unwrap();
    let ex: BTreeMap<&str, u64> = report
        .snapshot
        .exceptions
        .iter()
        .map(|(m, n)| (m.as_str(), *n))
        .collect();
    let budget = "script ran past its budget of 100000 instructions (a loop that does not end?)";
    let memory = "script ran out of memory (limit 64 MiB per worker thread)";
    let reader = "bad.luau:13: attempt to index nil with 'open'";
    for want in [budget, memory, reader] {
        assert!(ex.get(want).is_some_and(|n| *n > 0), "{want} in {ex:?}");
    }
    assert_eq!(ex.len(), 3, "nothing else went wrong: {ex:?}");
    assert!(
        report.snapshot.failures.is_empty(),
        "{:?}",
        report.snapshot.failures
    );
    assert!(report.snapshot.total.requests > 10);
    assert_eq!(report.snapshot.total.requests, c.served(), "nothing lost");
    // The workers lived through it and take the next run.
    let v = c.view().await;
    assert_eq!(v.workers.len(), 2);
    let again = c.master.start(c.plan(SHAPED, 1, 1.0)).await;
    assert!(again.is_ok(), "{again:?}");
}
