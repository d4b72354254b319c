#!/usr/bin/env python3
"""A scripted stand-in for vx-llm: a test fixture, not a model.

It takes vx-llm's place in a chat (vx-chat --llm-command Tests/Fixtures/scripted_llm.py) and
speaks the vx frame protocol (docs/PROTOCOL.md) on the same endpoints vx-llm would: it forwards
every frame and answers each final transcript with a known reply, as reply-chunk events (a few
words each, so the reply streams) and one reply event.

  scripted_llm.py --from listen:PATH --to connect:PATH [--feedback listen:PATH]
                  [--reply TEXT ...] [--log-level LEVEL]

--reply may be given several times: turn n gets the n-th reply (the last one repeats).
Feedback events (heard) are read and logged, as vx-llm would keep them.
"""
import argparse, json, os, socket, struct, sys, threading, time

def log(level, msg, **fields):
    extra = "".join(f" {k}={json.dumps(str(v))}" for k, v in fields.items())
    t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    sys.stderr.write(f"ts={t}.000Z level={level} tool=scripted-llm msg={json.dumps(msg)}{extra}\n")
    sys.stderr.flush()

def listen(path):
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    os.chmod(path, 0o600)
    s.listen(1)
    return s

def connect(path, deadline=30.0):
    start = time.monotonic()
    while True:
        try:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(path)
            return c
        except OSError:
            c.close()
            if time.monotonic() - start > deadline:
                raise
            time.sleep(0.05)

def frames(conn):
    buf = b""
    while True:
        while len(buf) < 8 or len(buf) < 8 + struct.unpack(">I", buf[4:8])[0]:
            more = conn.recv(65536)
            if not more:
                return
            buf += more
        n = struct.unpack(">I", buf[4:8])[0]
        if buf[:3] != b"VX\x01":
            raise ValueError("not a vx frame stream")
        yield buf[3:4], buf[:8 + n]
        buf = buf[8 + n:]

def event(type_, data):
    body = json.dumps({"type": type_, "data": data}, separators=(",", ":")).encode()
    return b"VX\x01E" + struct.pack(">I", len(body)) + body

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--from", dest="source", required=True)
    p.add_argument("--to", dest="sink", required=True)
    p.add_argument("--feedback")
    p.add_argument("--reply", action="append", default=[])
    p.add_argument("--log-level", default="notice")
    p.add_argument("--session")
    args = p.parse_args()
    replies = args.reply or ["This is the scripted reply."]
    assert args.source.startswith("listen:") and args.sink.startswith("connect:")
    server = listen(args.source[7:])
    out = connect(args.sink[8:])
    lock = threading.Lock()

    def send(data):
        nonlocal out
        with lock:
            try:
                out.sendall(data)
            except OSError:
                out = connect(args.sink[8:])
                out.sendall(data)

    if args.feedback:
        fb = listen(args.feedback[7:])
        def feedback():
            while True:
                conn, _ = fb.accept()
                for kind, frame in frames(conn):
                    if kind == b"E":
                        e = json.loads(frame[8:])
                        log("info", "feedback", type=e.get("type"), text=e.get("data", {}).get("text", ""))
        threading.Thread(target=feedback, daemon=True).start()

    log("info", "scripted llm ready", replies=len(replies))
    turn = 0
    while True:
        conn, _ = server.accept()
        for kind, frame in frames(conn):
            send(frame)
            if kind != b"E":
                continue
            e = json.loads(frame[8:])
            if e.get("type") != "transcript" or not e.get("data", {}).get("text"):
                continue
            text = replies[min(turn, len(replies) - 1)]
            turn += 1
            rid = f"scripted-{turn}"
            words = text.split(" ")
            for i in range(0, len(words), 3):
                piece = " ".join(words[i:i + 3]) + (" " if i + 3 < len(words) else "")
                send(event("reply-chunk", {"text": piece, "id": rid, "engine_ms": 0.0}))
            send(event("reply", {"text": text, "id": rid, "interrupted": False, "backend": "scripted", "model": "fixture"}))
            log("info", "replied", turn=turn, text=text)

if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
