"""A small HTTP proxy in front of moto's server, for fault injection: it forwards every request
and, by rules a test sets, answers some itself (throttling, AccessDenied, an expired token) or
rewrites moto's answer (a per-item failure inside a 200). It records every call it saw, so a
test can prove what was (and was not) sent again."""
import http.client
import http.server
import json
import threading
import urllib.parse


def operation(method, path, headers, body):
    """The API operation of a request, across the SDK's protocols."""
    low = {k.lower(): v for k, v in headers.items()}
    target = low.get("x-amz-target")
    if target:
        return target.split(".")[-1]
    ctype = low.get("content-type", "")
    if "x-www-form-urlencoded" in ctype and body:
        q = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        if "Action" in q:
            return q["Action"][0]
    u = urllib.parse.urlsplit(path)
    if u.path.startswith("/findings/import"):
        return "BatchImportFindings"
    if u.path == "/findings/list" and method == "POST":
        return "ListFindings"
    if u.path == "/findings" and method == "POST":
        return "GetFindings"
    qs = u.query
    if "tagging" in qs:
        return {"GET": "GetBucketTagging", "PUT": "PutBucketTagging", "DELETE": "DeleteBucketTagging"}[method]
    return f"{method} {u.path}"


class Call:
    def __init__(self, op, method, path, headers, body):
        self.op, self.method, self.path, self.headers, self.body = op, method, path, headers, body

    def json(self):
        return json.loads(self.body or b"{}")


class Proxy:
    """`rules`: list of callables `(call, n) -> None | (status, headers, body) | ("rewrite", f)`,
    where `n` counts earlier calls of the same operation."""

    def __init__(self, upstream):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.calls = []
        self.rules = []
        self.lock = threading.Lock()
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_any(self):
                n = int(self.headers.get("content-length", 0) or 0)
                body = self.rfile.read(n) if n else b""
                headers = {k: v for k, v in self.headers.items()}
                op = operation(self.command, self.path, headers, body)
                call = Call(op, self.command, self.path, headers, body)
                with proxy.lock:
                    seen = sum(1 for c in proxy.calls if c.op == op)
                    proxy.calls.append(call)
                rewrite = None
                for rule in proxy.rules:
                    r = rule(call, seen)
                    if r is None:
                        continue
                    if r[0] == "rewrite":
                        rewrite = r[1]
                        break
                    if r[0] == "request":
                        # Change the request before it reaches moto (e.g. drop a fake token).
                        body = r[1](call)
                        headers = dict(headers)
                        break
                    status, hdrs, out = r
                    return self.reply(status, hdrs, out)
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                fwd = {k: v for k, v in headers.items() if k.lower() not in ("connection", "keep-alive", "transfer-encoding", "expect")}
                fwd["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body, headers=fwd)
                resp = conn.getresponse()
                out = resp.read()
                rh = {k: v for k, v in resp.getheaders() if k.lower() not in ("content-length", "transfer-encoding", "connection")}
                status = resp.status
                conn.close()
                if rewrite is not None:
                    status, out = rewrite(call, status, out)
                self.reply(status, rh, out)

            def reply(self, status, hdrs, out):
                if isinstance(out, (dict, list)):
                    out = json.dumps(out).encode()
                    hdrs = dict(hdrs or {}, **{"Content-Type": "application/x-amz-json-1.1"})
                self.send_response(status)
                for k, v in (hdrs or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def ops(self, op):
        with self.lock:
            return [c for c in self.calls if c.op == op]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def json_error(status, code, message="injected by the test proxy"):
    """An AWS JSON-protocol error."""
    return (status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code},
            json.dumps({"__type": code, "message": message}).encode())


def query_error(status, code, message="injected by the test proxy"):
    """An AWS query/EC2-protocol error (XML)."""
    body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>test</RequestID></Response>").encode()
    return (status, {"Content-Type": "text/xml"}, body)


def awsquery_error(status, code, message="injected by the test proxy"):
    """An AWS query-protocol error (RDS, ELBv2, STS, IAM)."""
    body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>test</RequestId></ErrorResponse>").encode()
    return (status, {"Content-Type": "text/xml"}, body)
