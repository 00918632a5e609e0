//! HTML pages as Python's own parser (`html.parser`, the standard library;
//! `python3` on the PATH) reads them: well-formed or not, and what the
//! comparison's page shows, so a test asserts on structure, not on strings.

use std::path::Path;

use serde_json::Value;

/// Tracks open elements (void ones excepted) and reports each misnested or
/// unclosed one; counts scripts and charts; collects text and attributes
/// naming a URL, each row section of a comparison (the name its chart
/// gives, its pill, its lines as [class, points], its bars as label: mark)
/// and the gates table's body cells.
const SCRIPT: &str = r#"
import json, sys
from html.parser import HTMLParser
VOID = {"meta", "link", "br", "hr", "img", "input", "wbr", "col", "source"}

class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.urls = [], [], []
        self.scripts, self.charts, self.rows, self.gates = 0, 0, [], []
        self.cap, self.section, self.mark = None, None, None

    def begin(self, sink):
        self.cap = (len(self.stack), sink, [])

    def element(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        row = self.rows[-1] if self.rows and (self.section or "").startswith("row-") else None
        self.urls += [v for v in a.values() if v and ("http://" in v or "https://" in v)]
        if tag == "script":
            self.scripts += 1
        if tag == "section":
            self.section = a.get("id")
            if "row" in cls:
                self.rows.append({"name": None, "pill": None, "lines": [], "bars": {}})
        elif tag == "svg" and "chart" in cls:
            self.charts += 1
            if row is not None:
                row["name"] = a.get("aria-label", "").split(": ", 1)[-1]
        elif row is None:
            if tag == "tr" and self.section == "gates":
                self.gates.append([])
            elif tag == "td" and self.section == "gates":
                self.begin(self.gates[-1].append)
        elif tag == "path" and cls[:1] == ["line"]:
            row["lines"].append([" ".join(cls[1:]), a["d"].count(",")])
        elif tag == "span" and "pill" in cls:
            row["pill"] = row["pill"] or cls[1]
        elif tag == "div" and "bar" in cls:
            self.mark = cls[1]
        elif tag == "span" and "bk" in cls:
            mark = self.mark
            self.begin(lambda label: row["bars"].__setitem__(label, mark))

    def handle_starttag(self, tag, attrs):
        self.element(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.element(tag, attrs)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()
        if self.cap and len(self.stack) == self.cap[0]:
            self.cap[1]("".join(self.cap[2]).strip())
            self.cap = None

    def handle_data(self, data):
        if self.cap:
            self.cap[2].append(data)
        if "http://" in data or "https://" in data:
            self.urls.append(data)

p = Page()
p.feed(open(sys.argv[1], encoding="utf-8").read())
p.close()
if p.stack:
    p.errors.append(f"unclosed {p.stack}")
print(json.dumps({"errors": p.errors, "urls": p.urls, "scripts": p.scripts, "charts": p.charts,
                  "rows": p.rows, "gates": [g for g in p.gates if g]}))
"#;

/// The page in `file` as the parser reads it: `errors` (empty when
/// well-formed), `urls`, `scripts`, `charts`, `rows`, `gates`.
pub fn parse(file: &Path) -> Value {
    let out = std::process::Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("python3: {e}; the html checks need python3 on the PATH"));
    assert!(
        out.status.success(),
        "html.parser: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The page in `file`, which must be well-formed and self-contained: no
/// script, nothing loaded, no URL but the runs' `hosts`.
pub fn parse_self_contained(file: &Path, hosts: &[String]) -> Value {
    let p = parse(file);
    assert_eq!(p["errors"], serde_json::json!([]), "malformed html: {p}");
    assert_eq!(p["scripts"], 0);
    for url in p["urls"].as_array().unwrap() {
        assert!(hosts.iter().any(|h| url == h), "{url} is no run's host");
    }
    let text = std::fs::read_to_string(file).unwrap();
    for bad in ["<script", "<link", "@import", "url(", "src="] {
        assert!(!text.contains(bad), "found `{bad}` in the page");
    }
    p
}
