#!/usr/bin/env python3
"""Time to first token of a llama.cpp server through one long-running vx-llm, against a plain
streaming request with the identical body on a raw socket, interleaved run by run.
    scripts/bench-llm-ttft.py VX_LLM PORT RUNS      (run by scripts/bench-speech)"""
import json, socket, struct, subprocess, sys, time
vx, port, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
system = ("A conversation with vx, a helpful voice assistant. vx answers each question correctly, in one short sentence.\n\n"
          "User: Hello, who are you?\nAssistant: I'm vx, your voice assistant.\nUser: What is two plus two?\nAssistant: Two plus two is four.")
q = "What is the capital of France?"
body = {"max_tokens": 64, "model": "gpt-4o-mini", "prompt": system + "\nUser: " + q + "\nAssistant:",
        "stop": ["\n\n", "\nUser:", "\nAssistant:"], "stream": True, "temperature": 0}
fb = json.dumps({"type": "transcript", "data": {"text": q}}).encode()
frame = b"VX\x01E" + struct.pack(">I", len(fb)) + fb
p = subprocess.Popen([vx, "--backend", "openai", "--completion", "--url", f"http://127.0.0.1:{port}", "--no-session",
                      "--temperature", "0", "--context-budget", "265"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.DEVNULL)
def rf(f):
    h = f.read(8); n = struct.unpack(">I", h[4:])[0]; return json.loads(f.read(n))
def via_vx():
    t0 = time.perf_counter(); p.stdin.write(frame); p.stdin.flush(); first = None
    while True:
        e = rf(p.stdout)
        if e["type"] == "reply-chunk" and first is None: first = time.perf_counter() - t0
        if e["type"] == "reply": return first, time.perf_counter() - t0, e["data"]["text"]
data = json.dumps(body).encode()
req = (f"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
       f"Content-Length: {len(data)}\r\n\r\n").encode() + data
def direct():
    t0 = time.perf_counter(); s = socket.create_connection(("127.0.0.1", port)); s.sendall(req); buf = b""; first = None
    while b"[DONE]" not in buf:
        c = s.recv(65536)
        if not c: break
        buf += c
        if first is None:
            for line in buf.split(b"\n"):
                if line.startswith(b"data: {") and json.loads(line[6:])["choices"][0].get("text"):
                    first = time.perf_counter() - t0; break
    s.close(); return first, time.perf_counter() - t0
for _ in range(3): via_vx(); direct()
a, b, ta, tb = [], [], [], []
for _ in range(runs):
    f, t, text = via_vx(); a.append(f); ta.append(t)
    f, t = direct(); b.append(f); tb.append(t)
p.stdin.close(); p.wait()
def m(xs, f=.5): xs = sorted(xs); return xs[int(f * (len(xs) - 1))] * 1000
print("reply:", repr(text))
for n, xs, ts in [("through vx-llm", a, ta), ("direct socket", b, tb)]:
    print(f"{n:16s} first token median {m(xs):6.1f} ms (p10 {m(xs,.1):6.1f}, p90 {m(xs,.9):6.1f})   whole reply median {m(ts):6.1f} ms")
d = sorted(x - y for x, y in zip(a, b)); print(f"added by vx-llm (paired median): {d[len(d)//2]*1000:.2f} ms")
