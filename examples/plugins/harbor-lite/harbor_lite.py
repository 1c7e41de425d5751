#!/usr/bin/python3
"""harbor-lite: a PathOps plugin (protocol v1) in Python's standard library alone.

It serves the custom provider `harbor-lite` (type `registry`): Harbor's unauthenticated
`GET /api/v2.0/ping` for reachability, then `GET /api/v2.0/users/current` with the
integration's `username` and the secret over Basic (Harbor answers 200 for a user, 412 for
a robot account, 401 for bad credentials). It reads who it is from the manifest beside it,
answers requests concurrently (one thread each) and writes nothing but protocol messages
on stdout; its own notes go to stderr.
"""

import base64
import json
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "pathops-plugin.json"), encoding="utf-8") as f:
    MANIFEST = json.load(f)

PROTOCOL_VERSIONS = [1]
INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601
INVALID_CONFIG = -32010

out_lock = threading.Lock()


def send(message):
    line = json.dumps(message, separators=(",", ":"))
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def result(reachability, authentication, failure, message, details=None):
    return {
        "reachability": reachability,
        "authentication": authentication,
        "latency": 0,
        "failure": failure,
        "message": message,
        "details": details or {},
    }


def failed(code, message, reached):
    return result(
        "passed" if reached else "failed",
        "failed" if code == "unauthenticated" else ("passed" if reached else "not_checked"),
        {"code": code},
        message,
    )


def get(url, timeout, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(64 * 1024)
    except urllib.error.HTTPError as e:
        return e.code, e.read(64 * 1024)


def check(params):
    integration = params["integration"]
    base = integration["base_url"].rstrip("/")
    username = integration["configuration"].get("username", "")
    secret = params.get("secret") or ""
    budget = max(0.05, params.get("deadline_ms", 10000) / 1000.0 * 0.8)
    started = time.monotonic()
    try:
        status, _ = get(base + "/api/v2.0/ping", budget)
    except (socket.timeout, TimeoutError):
        return failed("timeout", "Harbor did not answer the ping in time", False)
    except urllib.error.URLError as e:
        if isinstance(e.reason, (socket.timeout, TimeoutError)):
            return failed("timeout", "Harbor did not answer the ping in time", False)
        return failed("connect", "cannot reach Harbor: %s" % e.reason, False)
    if status != 200:
        return failed("invalid_response", "ping answered %d" % status, True)
    left = max(0.05, budget - (time.monotonic() - started))
    token = base64.b64encode(("%s:%s" % (username, secret)).encode()).decode()
    try:
        status, _ = get(
            base + "/api/v2.0/users/current", left, {"Authorization": "Basic " + token}
        )
    except (socket.timeout, TimeoutError, urllib.error.URLError):
        return failed("timeout", "Harbor did not answer users/current in time", True)
    if status in (200, 412):
        kind = "robot account" if status == 412 else "user"
        return result("passed", "passed", None, "authenticated as %s (%s)" % (username, kind))
    if status == 401:
        return failed("unauthenticated", "Harbor refused the credentials of %s" % username, True)
    if status == 403:
        return result("passed", "passed", {"code": "permission_denied"}, "forbidden")
    if status >= 500:
        return result("passed", "passed", {"code": "server_error", "status": status}, "answered %d" % status)
    return failed("invalid_response", "users/current answered %d" % status, True)


def validate(params):
    configuration = params.get("configuration") or {}
    unknown = sorted(set(configuration) - {"username"})
    if unknown:
        return {"field": unknown[0], "reason": "unknown key (harbor-lite reads only username)"}
    username = configuration.get("username")
    if not isinstance(username, str) or not username:
        return {"field": "username", "reason": "required: the Harbor user or robot account"}
    return None


def handle(message):
    ident = message.get("id")
    method = message.get("method")
    params = message.get("params") or {}
    if method == "initialize":
        common = [v for v in params.get("protocol_versions", []) if v in PROTOCOL_VERSIONS]
        if not common:
            return send({"jsonrpc": "2.0", "id": ident, "error": {
                "code": INVALID_PARAMS,
                "message": "no protocol version in common",
                "data": {"supported": PROTOCOL_VERSIONS, "requested": params.get("protocol_versions")},
            }})
        answer = {key: MANIFEST[key] for key in
                  ("plugin_id", "version", "provider", "integration_type", "capabilities")}
        answer["protocol_version"] = max(common)
        return send({"jsonrpc": "2.0", "id": ident, "result": answer})
    if method == "validate_config":
        problem = validate(params)
        if problem:
            return send({"jsonrpc": "2.0", "id": ident, "error": {
                "code": INVALID_CONFIG, "message": problem["reason"], "data": problem}})
        return send({"jsonrpc": "2.0", "id": ident, "result": {}})
    if method in ("test_connection", "check_health"):
        return send({"jsonrpc": "2.0", "id": ident, "result": check(params)})
    if method == "shutdown":
        return send({"jsonrpc": "2.0", "id": ident, "result": {}})
    send({"jsonrpc": "2.0", "id": ident, "error": {
        "code": METHOD_NOT_FOUND, "message": "no method %s" % method}})


def main():
    print("harbor-lite %s ready" % MANIFEST["version"], file=sys.stderr, flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        if "id" not in message:
            continue  # $/cancel: urllib cannot be interrupted; every call ends by its deadline
        threading.Thread(target=handle, args=(message,), daemon=True).start()


if __name__ == "__main__":
    main()
