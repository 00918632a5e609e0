"""The conformance matrix's app for gunicorn (WSGI: `app:wsgi`) and uvicorn
(ASGI: `app:asgi`): the same routes as app.js, each request logged to the
file named by CONFORMANCE_LOG as one |-separated line
(remote port, method, path, Content-Length, Cookie, body length:sha256),
written before the response so the test can read what the server saw."""

import asyncio
import gzip
import hashlib
import os
import threading
import time
import zlib
from http import HTTPStatus

LOG = os.environ["CONFORMANCE_LOG"]
_lock = threading.Lock()

# Deterministic bodies: the test builds the same bytes (conformance/mod.rs).
FILE = bytes((i * 7 + 3) % 251 for i in range(2000))
TEXT = b"".join(b"line %05d of the compressible conformance text\n" % i for i in range(400))
BIG = bytes(range(256)) * (10 * 1024 * 1024 // 256)
ETAG = '"conformance-v1"'
LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"
COOKIES = [
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
]


def log(port, method, path, length, cookie, body):
    digest = "%d:%s" % (len(body), hashlib.sha256(body).hexdigest()[:16]) if body else "-"
    line = "|".join([str(port), method, path, length or "-", cookie or "-", digest])
    with _lock, open(LOG, "a") as f:
        f.write(line + "\n")


def route(method, path, headers, body):
    """(status, headers, body parts, gaps between parts, cut) for a request."""
    ae = headers.get("accept-encoding", "")
    if path == "/file":
        base = [("ETag", ETAG), ("Last-Modified", LAST_MODIFIED)]
        if headers.get("if-none-match") == ETAG or headers.get("if-modified-since") == LAST_MODIFIED:
            return 304, base, [], 0, False
        return 200, base + [("Content-Length", str(len(FILE)))], [FILE], 0, False
    if path == "/chunked":
        return 200, [], [TEXT[:1000], TEXT[1000:5000], TEXT[5000:]], 0, False
    if path == "/gzip" and "gzip" in ae:
        z = gzip.compress(TEXT)
        return 200, [("Content-Encoding", "gzip"), ("Content-Length", str(len(z)))], [z], 0, False
    if path == "/deflate" and "deflate" in ae:
        z = zlib.compress(TEXT)
        return 200, [("Content-Encoding", "deflate"), ("Content-Length", str(len(z)))], [z], 0, False
    if path in ("/gzip", "/deflate"):
        return 200, [("Content-Length", str(len(TEXT)))], [TEXT], 0, False
    if path == "/big":
        return 200, [("Content-Length", str(len(BIG)))], [BIG], 0, False
    if path == "/trickle":
        parts = [FILE[i : i + 250] for i in range(0, len(FILE), 250)]
        return 200, [("Content-Length", str(len(FILE)))], parts, 0.15, False
    if path == "/cut":
        return 200, [("Content-Length", str(len(BIG)))], [BIG[:50000]], 0, True
    if path == "/nocontent":
        return 204, [], [], 0, False
    if path.startswith("/redirect/"):
        return int(path.rsplit("/", 1)[1]), [("Location", "/echo"), ("Content-Length", "0")], [], 0, False
    if path in ("/echo", "/continue"):
        text = b"%s %d %s" % (method.encode(), len(body), hashlib.sha256(body).hexdigest()[:16].encode())
        return 200, [("Content-Length", str(len(text)))], [text], 0, False
    if path == "/refuse":
        return 403, [("Content-Length", "2")], [b"no"], 0, False
    if path == "/cookies/set":
        return 200, [("Set-Cookie", c) for c in COOKIES] + [("Content-Length", "2")], [b"ok"], 0, False
    return 200, [("Content-Length", "2")], [b"ok"], 0, False


class Cut(Exception):
    """Raised mid-body: the server then closes the connection."""


def wsgi(environ, start_response):
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_LENGTH"):
        headers["content-length"] = environ["CONTENT_LENGTH"]
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    log(environ.get("REMOTE_PORT", "?"), method, path, headers.get("content-length"), headers.get("cookie"), body)
    status, hdrs, parts, gap, cut = route(method, path, headers, body)
    start_response("%d %s" % (status, HTTPStatus(status).phrase), hdrs)

    def chunks():
        for i, part in enumerate(parts):
            if i and gap:
                time.sleep(gap)
            yield part
        if cut:
            raise Cut("connection cut mid-body")

    return chunks()


async def asgi(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
    method, path = scope["method"], scope["path"]
    body = b""
    # Reading the body is what makes uvicorn answer `Expect: 100-continue`;
    # /refuse answers without reading it (no 100 is sent).
    if path != "/refuse" and ("content-length" in headers or "transfer-encoding" in headers):
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
    log(scope["client"][1], method, path, headers.get("content-length"), headers.get("cookie"), body)
    status, hdrs, parts, gap, cut = route(method, path, headers, body)
    await send({"type": "http.response.start", "status": status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in hdrs]})
    for i, part in enumerate(parts):
        if i and gap:
            await asyncio.sleep(gap)
        await send({"type": "http.response.body", "body": part, "more_body": True})
    if cut:
        raise Cut("connection cut mid-body")
    await send({"type": "http.response.body", "body": b"", "more_body": False})
