//! The program as a scenario uses it: shared functions, steps over a user's
//! variables, scripted tasks as coroutines, and every way a script can go
//! wrong, each a clear one-line error that leaves the state usable.

use serde_json::json;
use stampede_script::{
    Limits, Program, ProgramBuilder, Response, Resume, ScriptError, Source, Step, UserEntry,
};

fn program(shared: &str) -> Result<Program, ScriptError> {
    let mut b = ProgramBuilder::default();
    b.shared(Source::file("lib.luau", shared));
    b.build(Limits::default())
}

#[test]
fn shared_functions_use_the_standard_library() {
    let p = program(
        r#"
        function sign(key, method, path, body)
          return crypto.hmac("sha256", key, method .. "\n" .. path .. "\n" .. body)
        end
        function total(items)
          local t = 0
          for _, it in items do if it.keep then t += it.price end end
          return t
        end
        function enc() return { b = base64.encode("hi"), h = hex.encode("hi"), j = json.encode({a = 1}), u = url.encode("a b&c") } end
        "#,
    )
    .unwrap();
    assert!(p.functions().contains("sign"));
    let sig = p
        .call("sign", &[json!("k"), json!("GET"), json!("/x"), json!("")])
        .unwrap();
    assert_eq!(sig.as_str().unwrap().len(), 64);
    let items = json!([{"price": 2, "keep": true}, {"price": 5, "keep": false}, {"price": 3, "keep": true}]);
    assert_eq!(p.call("total", &[items]).unwrap(), json!(5));
    assert_eq!(
        p.call::<serde_json::Value>("enc", &[]).unwrap(),
        json!({"b": "aGk=", "h": "6869", "j": "{\"a\":1}", "u": "a+b%26c"})
    );
}

#[test]
fn syntax_and_top_level_errors_name_the_file_and_line() {
    let e = program("function f()\n  return 1 +\nend\n").unwrap_err();
    assert!(e.to_string().starts_with("lib.luau:3:"), "{e}");
    let e = program("local x = nil\nx.y = 1\n").unwrap_err();
    assert!(e.to_string().starts_with("lib.luau:2:"), "{e}");
    let e = program("function f() end\nf = 1 + {}\n").unwrap_err();
    assert!(e.to_string().contains("lib.luau:2"), "{e}");
}

#[test]
fn inline_blocks_keep_the_scenario_lines() {
    let mut b = ProgramBuilder::default();
    b.shared(Source {
        name: "s.yaml".into(),
        text: "function f()\n  return nil + 1\nend\n".into(),
        first_line: 10,
    });
    let p = b.build(Limits::default()).unwrap();
    let e = p.call::<serde_json::Value>("f", &[]).unwrap_err();
    assert!(e.to_string().starts_with("s.yaml:11:"), "{e}");
}

#[test]
fn the_sandbox_has_no_files_network_or_os() {
    for code in [
        "function f() return io.open('/etc/passwd') end",
        "function f() return require('x') end",
        "function f() return os.execute('true') end",
        "function f() return loadstring('return 1')() end",
        "function f() return dofile('/etc/passwd') end",
    ] {
        let p = program(code).unwrap();
        let e = p.call::<serde_json::Value>("f", &[]).unwrap_err();
        assert!(matches!(e, ScriptError::Runtime(_)), "{code}: {e:?}");
        assert!(e.to_string().starts_with("lib.luau:1:"), "{code}: {e}");
    }
    // Globals are frozen: state stays on the user, not in the script.
    let p = program("function f() counter = 1 end").unwrap();
    let e = p.call::<serde_json::Value>("f", &[]).unwrap_err();
    assert!(e.to_string().contains("readonly"), "{e}");
}

#[test]
fn budget_and_memory_fail_the_call_not_the_state() {
    let mut b = ProgramBuilder::default();
    b.shared(Source::file(
        "lib.luau",
        "function spin() while true do end end\nfunction hog() return string.rep('x', 2^30) end\nfunction ok() return 7 end",
    ));
    let p = b
        .build(Limits {
            instructions: 10_000,
            memory_bytes: 32 << 20,
        })
        .unwrap();
    let e = p.call::<serde_json::Value>("spin", &[]).unwrap_err();
    assert_eq!(e, ScriptError::Budget(10_000));
    let e = p.call::<serde_json::Value>("hog", &[]).unwrap_err();
    assert_eq!(e, ScriptError::Memory(32), "{e}");
    assert_eq!(p.call::<serde_json::Value>("ok", &[]).unwrap(), json!(7));
}

#[test]
fn steps_read_and_set_only_what_changed() {
    let mut b = ProgramBuilder::default();
    b.shared(Source::file(
        "lib.luau",
        "function double(x) return x * 2 end",
    ));
    let step = b.step(Source {
        name: "s.yaml".into(),
        text: "vars.total = double(vars.n) + #vars.items".into(),
        first_line: 5,
    });
    let p = b.build(Limits::default()).unwrap();
    let mut scope = None;
    let items = json!([1, 2, 3]);
    let n = json!(10);
    let out = p
        .run_step(&mut scope, step, [("n", &n), ("items", &items)])
        .unwrap();
    assert_eq!(out, vec![("total".to_owned(), json!(23))]);
    // Nothing changed: the mirror still has the values.
    let out = p
        .run_step::<serde_json::Value>(&mut scope, step, [])
        .unwrap();
    assert_eq!(out, vec![("total".to_owned(), json!(23))]);
}

#[test]
fn a_scripted_task_yields_requests_and_sleeps() {
    let mut b = ProgramBuilder::default();
    let class = b.user(Source::file(
        "user.luau",
        r#"
        function on_start(user)
          local r = http.post("/login", { json = { name = "u" .. user.index } })
          check(r.status == 200, "login failed")
          user.token = r.json.token
        end
        function browse(user)
          sleep(0.5)
          local r = http.get("/items", { headers = { authorization = user.token }, name = "items" })
          check(#r.json == 2, "expected 2 items")
        end
        tasks = { browse = 3 }
        "#,
    ));
    let p = b.build(Limits::default()).unwrap();
    let script = p.user_script(class);
    assert_eq!(script.tasks, vec![("browse".to_owned(), 3)]);
    assert!(script.on_start && !script.on_stop);
    let index = json!(4);
    let user = p.new_user([("index", &index)]).unwrap();
    let mut co = p.task(&user, class, UserEntry::Start).unwrap().unwrap();
    let Step::Http(call) = co.resume(&p, Resume::Start) else {
        panic!("expected a request")
    };
    assert_eq!(call.method, "POST");
    assert_eq!(call.path, "/login");
    assert_eq!(
        call.body,
        stampede_script::HttpBody::Json(json!({"name": "u4"}))
    );
    let ok = |body: &str| Response {
        status: 200,
        body: body.to_owned().into(),
        ..Response::default()
    };
    assert!(matches!(
        co.resume(&p, Resume::Response(ok(r#"{"token":"t1"}"#))),
        Step::Done
    ));
    let mut co = p.task(&user, class, UserEntry::Task(0)).unwrap().unwrap();
    assert!(matches!(co.resume(&p, Resume::Start), Step::Sleep(d) if d.as_millis() == 500));
    let Step::Http(call) = co.resume(&p, Resume::Woke) else {
        panic!("expected a request")
    };
    assert_eq!(
        call.headers,
        vec![("authorization".to_owned(), "t1".to_owned())]
    );
    assert_eq!(call.name.as_deref(), Some("items"));
    match co.resume(&p, Resume::Response(ok("[1]"))) {
        Step::Failed { message, check } => {
            assert!(check);
            assert_eq!(message, "expected 2 items (user.luau:10)");
        }
        other => panic!("{other:?}"),
    }
    assert!(p.task(&user, class, UserEntry::Stop).unwrap().is_none());
}

#[test]
fn scripted_classes_are_checked() {
    let build = |code: &str| {
        let mut b = ProgramBuilder::default();
        b.user(Source::file("user.luau", code));
        b.build(Limits::default()).map(|_| ())
    };
    let e = build("function on_start(u) end").unwrap_err();
    assert!(e.to_string().contains("defines no task"), "{e}");
    let e = build("function a(u) end\ntasks = { b = 1 }").unwrap_err();
    assert_eq!(
        e.to_string(),
        "user.luau: `tasks` names `b`, which is not a function of the script"
    );
    // A scripted class's top level runs under the budget too.
    let e = build("while true do end").unwrap_err();
    assert_eq!(e, ScriptError::Budget(Limits::default().instructions));
    let e = build("function a(u) end\ntasks = { a = 0 }").unwrap_err();
    assert!(e.to_string().contains("weights are whole numbers"), "{e}");
    // http outside a task is refused with a message.
    let p = program("function f() return http.get('/x') end").unwrap();
    let e = p.call::<serde_json::Value>("f", &[]).unwrap_err();
    assert!(
        e.to_string()
            .contains("can only be called by a scripted user"),
        "{e}"
    );
}
