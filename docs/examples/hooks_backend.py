#!/usr/bin/env python3
"""A Cinder backend in Python, standard library only: the backend hooks of docs/backend-hooks.md.

Run it beside a node configured by cinder.json:

    python3 docs/examples/hooks_backend.py            # listens on 127.0.0.1:5000 (PORT)
    npx cinder --config docs/examples/cinder.json     # serves sockets on :4000

A client connects with `?token=user:<name>`; it may join `room:*` (but `room:staff` only as
`admin`) and its own `user:<name>`; a `new_msg` push is checked, signed with its author's name and
broadcast; a `ping` push is answered here.
"""

import hashlib
import hmac
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ.get("CINDER_HOOK_SECRET", "change-me-to-a-long-random-secret").encode()
MAX_MESSAGE = 500


def connect(req):
    """Who is this socket? The connect params are the socket's query string."""
    token = req["params"].get("token", "")
    if not token.startswith("user:") or len(token) <= len("user:"):
        return {"allow": False}
    name = token[len("user:"):]
    # userId: server.disconnect(userId) closes its sockets; topics: joined without asking /join.
    return {"allow": True, "userId": name, "assigns": {"name": name}, "topics": ["user:" + name]}


def join(req):
    topic, user = req["topic"], req["userId"]
    if topic == "room:staff" and user != "admin":
        return {"allow": False, "reason": "members only"}
    if topic.startswith("user:") and topic != "user:" + str(user):
        return {"allow": False, "reason": "not yours"}
    return {"allow": True, "response": {"room": topic, "you": user}, "assigns": {"joined_as": user}}


def publish(req):
    body = str(req["payload"].get("body", "")).strip()
    if not body:
        return {"allow": False, "reason": "empty message"}
    # Broadcast what the backend decides: the text cut to size, and who said it.
    return {"allow": True, "payload": {"body": body[:MAX_MESSAGE], "from": req["assigns"].get("name")}}


def rpc(req):
    if req["event"] == "ping":
        return {"status": "ok", "response": {"pong": req["payload"], "node": req["node"]}}
    return {"status": "error", "response": {"reason": "unknown event"}}


ROUTES = {"/connect": connect, "/join": join, "/publish": publish, "/rpc": rpc}


class Hooks(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: Cinder reuses its connections

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        expected = "sha256=" + hmac.new(SECRET, raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, self.headers.get("x-cinder-signature", "")):
            return self.answer(401, {"error": "bad signature"})
        route = ROUTES.get(self.path)
        if route is None:
            return self.answer(404, {"error": "no such hook"})
        req = json.loads(raw)
        if req.get("v") != 1:
            return self.answer(400, {"error": "unknown hook protocol version"})
        self.answer(200, route(req))

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "5000"))), Hooks)
    print("hooks backend listening on port %d" % server.server_address[1], flush=True)
    server.serve_forever()
