// The conformance matrix's app for Node's `http` module: the same routes as
// app.py, plus /chunked-ext, a chunked body with chunk extensions and
// trailer fields written as raw bytes on the socket (Node's own encoder
// writes trailers but no extensions). Each request is logged to
// CONFORMANCE_LOG as one |-separated line (remote port, method, path,
// Content-Length, Cookie, body length:sha256) before the response.
// Usage: node app.js PORT
"use strict";
const http = require("http");
const fs = require("fs");
const zlib = require("zlib");
const crypto = require("crypto");

const LOG = process.env.CONFORMANCE_LOG;
const FILE = Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 7 + 3) % 251));
const TEXT = Buffer.from(
  Array.from({ length: 400 }, (_, i) => `line ${String(i).padStart(5, "0")} of the compressible conformance text\n`).join(""),
);
const BIG = Buffer.alloc(10 * 1024 * 1024);
for (let i = 0; i < BIG.length; i++) BIG[i] = i % 256;
const ETAG = '"conformance-v1"';
const LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT";
const COOKIES = [
  "plain=1",
  "dom=2; Domain=conformance.test; Path=/",
  "scoped=3; Path=/cookies",
  "aged=4; Max-Age=3600",
  "zero=5; Max-Age=0",
  "dated=6; Expires=Wed, 21 Oct 2037 07:28:00 GMT",
  "expired=7; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
  "secure=8; Secure",
  "httponly=9; HttpOnly",
  "foreign=10; Domain=elsewhere.test",
];

const sha = (b) => crypto.createHash("sha256").update(b).digest("hex").slice(0, 16);

function log(req, body) {
  const digest = body.length ? `${body.length}:${sha(body)}` : "-";
  const h = (n) => req.headers[n] || "-";
  const line = [req.socket.remotePort, req.method, req.url, h("content-length"), h("cookie"), digest];
  fs.appendFileSync(LOG, line.join("|") + "\n");
}

function handle(req, res, body) {
  const ae = req.headers["accept-encoding"] || "";
  const path = req.url;
  const send = (status, headers, data) => {
    res.writeHead(status, headers);
    res.end(data);
  };
  if (path === "/file") {
    const base = { ETag: ETAG, "Last-Modified": LAST_MODIFIED };
    if (req.headers["if-none-match"] === ETAG || req.headers["if-modified-since"] === LAST_MODIFIED) {
      return send(304, base);
    }
    return send(200, { ...base, "Content-Length": FILE.length }, req.method === "HEAD" ? undefined : FILE);
  }
  if (path === "/chunked") {
    res.writeHead(200);
    res.write(TEXT.subarray(0, 1000));
    res.write(TEXT.subarray(1000, 5000));
    res.addTrailers({ "X-Trailer": "end" });
    return res.end(TEXT.subarray(5000));
  }
  if (path === "/chunked-ext") {
    // Raw bytes: Node's encoder cannot write chunk extensions.
    const parts = [TEXT.subarray(0, 1000), TEXT.subarray(1000, 5000), TEXT.subarray(5000)];
    let raw = "HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum, X-Note\r\n\r\n";
    const chunks = [Buffer.from(raw)];
    parts.forEach((p, i) => {
      chunks.push(Buffer.from(`${p.length.toString(16)};part=${i};note="a \\"quoted\\" value"\r\n`), p, Buffer.from("\r\n"));
    });
    chunks.push(Buffer.from(`0;last\r\nX-Checksum: ${sha(TEXT)}\r\nX-Note: trailer\r\n\r\n`));
    // The response is written around Node's own writer: the connection is
    // then closed after the last request on it.
    req.socket.write(Buffer.concat(chunks));
    res.shouldKeepAlive = false;
    return req.socket.end();
  }
  if ((path === "/gzip" && ae.includes("gzip")) || (path === "/deflate" && ae.includes("deflate"))) {
    const gz = path === "/gzip";
    const z = gz ? zlib.gzipSync(TEXT) : zlib.deflateSync(TEXT);
    return send(200, { "Content-Encoding": gz ? "gzip" : "deflate", "Content-Length": z.length }, z);
  }
  if (path === "/gzip" || path === "/deflate") return send(200, { "Content-Length": TEXT.length }, TEXT);
  if (path === "/big") return send(200, { "Content-Length": BIG.length }, BIG);
  if (path === "/trickle") {
    res.writeHead(200, { "Content-Length": FILE.length });
    let i = 0;
    const next = () => {
      res.write(FILE.subarray(i, i + 250));
      i += 250;
      if (i >= FILE.length) return res.end();
      setTimeout(next, 150);
    };
    return next();
  }
  if (path === "/cut") {
    res.writeHead(200, { "Content-Length": BIG.length });
    return res.write(BIG.subarray(0, 50000), () => res.destroy());
  }
  if (path === "/nocontent") return send(204, {});
  if (path.startsWith("/redirect/")) {
    return send(Number(path.split("/")[2]), { Location: "/echo", "Content-Length": 0 }, "");
  }
  if (path === "/echo" || path === "/continue") {
    return send(200, {}, `${req.method} ${body.length} ${sha(body)}`);
  }
  if (path === "/cookies/set") {
    return send(200, { "Set-Cookie": COOKIES, "Content-Length": 2 }, "ok");
  }
  return send(200, { "Content-Length": 2 }, "ok");
}

const server = http.createServer((req, res) => {
  const parts = [];
  req.on("data", (d) => parts.push(d));
  req.on("end", () => {
    const body = Buffer.concat(parts);
    log(req, body);
    handle(req, res, body);
  });
});
// `Expect: 100-continue`: /refuse answers 403 without reading the body (no
// 100 is sent), the rest get their 100 and are handled as usual.
server.on("checkContinue", (req, res) => {
  if (req.url === "/refuse") {
    log(req, Buffer.alloc(0));
    res.writeHead(403, { "Content-Length": 2 });
    return res.end("no");
  }
  res.writeContinue();
  server.emit("request", req, res);
});
// Node keeps an idle connection for about a second past this.
server.keepAliveTimeout = 500;
server.listen(Number(process.argv[2]), "127.0.0.1");
