#!/usr/bin/env python3
"""A scripted HTTP server standing in for remote engines (speech-to-text, LLM, TTS) in tests.

    fake_engine_server.py [--script JSON] [--log FILE] [--idle-timeout SECONDS]

Listens on 127.0.0.1 on a free port and prints that port as its first line of stdout. It exits
when its stdin closes (so it never outlives the test that started it) or after --idle-timeout
seconds (default 60) without a request.

The script is a JSON list of steps, or {"steps": [...], "default": step}. Each request takes the
next step; once they run out, every request gets "default" (a 500 unless given). A step is an
object; all keys are optional:

    "sleep": 2.5              wait this long before the first byte of the response
    "status": 429             the status code (200)
    "headers": {"Retry-After": "1"}
    "json": {...}             a JSON body
    "body": "text"            a text body
    "echo_auth": true         the body is the request's Authorization header (redaction tests)
    "close": true             close the connection without responding ("reset" sends a TCP RST)
    "raw": "text"             write these bytes instead of an HTTP response, then close
    "sse": ["data: a\\n\\n", ...], "delay": 0.05
                              a text/event-stream body written chunk by chunk, `delay` apart

POST /__script with a script as the body replaces the script and starts it from its first step.

Every other request is recorded, one JSON object a line, to --log (and flushed before the
response): n, t (time.monotonic() on arrival), method, path (without the query), query (bool),
headers (lower-case names; Authorization left out), authorization ({present, sha256 of the
value}), body_size, json (a JSON body, parsed), fields (multipart text fields) and files
(multipart files: filename, content_type, size, base64).
"""

import argparse
import base64
import hashlib
import http.server
import json
import os
import re
import socket
import struct
import sys
import threading
import time

NO_STEP = {"status": 500, "body": "fake_engine_server: no scripted response left"}


class Script:
    """The steps, which request gets which, and the log of what arrived."""

    def __init__(self, script, log_path):
        self.lock = threading.Lock()
        self.load(script)
        self.count = 0
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None
        self.last_activity = time.monotonic()

    def load(self, script):
        if isinstance(script, dict):
            self.steps, self.default = list(script.get("steps", [])), script.get("default", NO_STEP)
        else:
            self.steps, self.default = list(script or []), NO_STEP
        self.next = 0

    def take(self, record):
        """Records a request and returns its step."""
        with self.lock:
            self.last_activity = time.monotonic()
            record["n"] = self.count
            self.count += 1
            step = self.steps[self.next] if self.next < len(self.steps) else self.default
            self.next += 1
            if self.log:
                self.log.write(json.dumps(record) + "\n")
                self.log.flush()
            return step


def parse_multipart(body, content_type):
    """(text fields, files) of a multipart/form-data body."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    fields, files = {}, {}
    if not match:
        return fields, files
    for chunk in body.split(b"--" + match.group(1).encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        head = head.decode("utf-8", "replace")
        name = re.search(r'name="([^"]*)"', head)
        filename = re.search(r'filename="([^"]*)"', head)
        ctype = re.search(r"(?im)^content-type:\s*(.+)$", head)
        if not name:
            continue
        if filename:
            files[name.group(1)] = {
                "filename": filename.group(1),
                "content_type": ctype.group(1).strip() if ctype else None,
                "size": len(content),
                "base64": base64.b64encode(content).decode(),
            }
        else:
            fields[name.group(1)] = content.decode("utf-8", "replace")
    return fields, files


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection; the body ends when it closes

    def do_GET(self):
        self.handle_request()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def handle_request(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        script = self.server.script
        if self.command == "POST" and self.path == "/__script":
            with script.lock:
                script.load(json.loads(body or b"[]"))
            return self.respond({"status": 200, "json": {"ok": True}})
        auth = self.headers.get("Authorization")
        record = {
            "t": time.monotonic(),
            "method": self.command,
            "path": self.path.split("?", 1)[0],
            "query": "?" in self.path,
            "headers": {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"},
            "authorization": {
                "present": auth is not None,
                "sha256": hashlib.sha256(auth.encode()).hexdigest() if auth is not None else None,
            },
            "body_size": len(body),
        }
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            record["fields"], record["files"] = parse_multipart(body, ctype)
        elif ctype.startswith("application/json"):
            try:
                record["json"] = json.loads(body)
            except ValueError:
                record["json"] = None
        step = script.take(record)
        time.sleep(step.get("sleep", 0))
        try:
            self.respond(step, auth)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout or a cancellation in the test)

    def respond(self, step, auth=None):
        if step.get("close"):
            if step["close"] == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if "raw" in step:
            self.wfile.write(step["raw"].encode())
            return
        self.send_response(step.get("status", 200))
        for name, value in step.get("headers", {}).items():
            self.send_header(name, value)
        if "sse" in step:
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for i, chunk in enumerate(step["sse"]):
                if i:
                    time.sleep(step.get("delay", 0))
                self.wfile.write(chunk.encode())
                self.wfile.flush()
            return
        if "json" in step:
            body, ctype = json.dumps(step["json"]).encode(), "application/json"
        elif step.get("echo_auth"):
            body, ctype = (auth or "").encode(), "text/plain"
        else:
            body, ctype = step.get("body", "").encode(), "text/plain"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass  # the log file says what arrived; stderr stays quiet


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--script", default="[]", help="the script, as JSON text")
    parser.add_argument("--log", help="append a JSON line per request to this file")
    parser.add_argument("--idle-timeout", type=float, default=60, help="exit after this many seconds without a request")
    args = parser.parse_args()

    server = Server(("127.0.0.1", 0), Handler)
    server.script = Script(json.loads(args.script), args.log)
    print(server.server_address[1], flush=True)

    def exit_when_stdin_closes():
        while sys.stdin.buffer.read(4096):
            pass
        os._exit(0)

    def exit_when_idle():
        while time.monotonic() - server.script.last_activity < args.idle_timeout:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    threading.Thread(target=exit_when_idle, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
