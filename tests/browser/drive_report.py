#!/usr/bin/env python3
"""Loads an HTML report in headless Chromium and reports what a reader would see, as one
JSON object on stdout: how many session charts rendered, the Score column before and
after clicking its header (twice), whether a hostile payload made an element or ran, and
every console error or uncaught exception. Saves a screenshot.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: fd 3 in,
fd 4 out), so no port is opened; it runs in an empty network namespace when it can.

usage: drive_report.py CHROMIUM REPORT.html SCREENSHOT.png PROFILE_DIR
"""
import base64, fcntl, json, os, shutil, subprocess, sys, time

chromium, report, shot, profile = sys.argv[1:5]


def above_4(fd):
    # Out of the way of fds 3 and 4, which the child's ends are moved to.
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


to_chrome_r, to_chrome_w = map(above_4, os.pipe())
from_chrome_r, from_chrome_w = map(above_4, os.pipe())


def wire_fds():
    # Chromium reads commands on fd 3 and writes answers on fd 4.
    os.dup2(to_chrome_r, 3)
    os.dup2(from_chrome_w, 4)


cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
       "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
       "--disable-default-apps", "--mute-audio", f"--user-data-dir={profile}",
       "--remote-debugging-pipe", "--window-size=1400,1000", "about:blank"]
# No network at all: an empty network namespace (root), else as is.
if os.geteuid() == 0 and shutil.which("unshare"):
    cmd = ["unshare", "--net", "--"] + cmd
proc = subprocess.Popen(cmd, pass_fds=(3, 4), preexec_fn=wire_fds,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(to_chrome_r)
os.close(from_chrome_w)
out = os.fdopen(to_chrome_w, "wb", buffering=0)
inp = os.fdopen(from_chrome_r, "rb", buffering=0)

buf = b""
events = []
next_id = 0


def read_message(deadline):
    global buf
    while b"\0" not in buf:
        if time.time() > deadline:
            raise SystemExit("drive_report: timed out waiting for chromium")
        chunk = inp.read(65536)
        if not chunk:
            raise SystemExit("drive_report: chromium closed the pipe")
        buf += chunk
    msg, buf = buf.split(b"\0", 1)
    return json.loads(msg)


def send(method, params=None, session=None, timeout=60):
    global next_id
    next_id += 1
    msg = {"id": next_id, "method": method, "params": params or {}}
    if session:
        msg["sessionId"] = session
    out.write(json.dumps(msg).encode() + b"\0")
    deadline = time.time() + timeout
    while True:
        m = read_message(deadline)
        if m.get("id") == next_id:
            if "error" in m:
                raise SystemExit(f"drive_report: {method}: {m['error']}")
            return m.get("result", {})
        events.append(m)


def wait_event(name, timeout=60):
    deadline = time.time() + timeout
    while True:
        for i, e in enumerate(events):
            if e.get("method") == name:
                return events.pop(i)
        events.append(read_message(deadline))


try:
    target = send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log"):
        send(f"{domain}.enable", session=session)
    send("Page.navigate", {"url": "file://" + os.path.abspath(report)}, session=session)
    wait_event("Page.loadEventFired")

    def js(expr):
        r = send("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session=session)
        if "exceptionDetails" in r:
            raise SystemExit(f"drive_report: {expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    scores = ("Array.from(document.querySelectorAll('#alerts tbody tr'))"
              ".map(function (r) { return parseInt(r.cells[2].textContent, 10); })")
    click_score = ("Array.from(document.querySelectorAll('#alerts th'))"
                   ".filter(function (t) { return t.textContent === 'Score'; })[0].click()")
    facts = {
        "charts": js("document.querySelectorAll('svg.timeline').length"),
        "charts_with_bars": js("Array.from(document.querySelectorAll('svg.timeline'))"
                               ".filter(function (s) { return s.getBBox().width > 0 &&"
                               " s.querySelector('path.up, path.down'); }).length"),
        "decision_marks": js("document.querySelectorAll('svg.timeline g.decision').length"),
        "rows": js("document.querySelectorAll('#alerts tbody tr').length"),
        "scores_before": js(scores),
    }
    js(click_score)
    facts["scores_after_click"] = js(scores)
    facts["sort_state"] = js("document.querySelector('#alerts th[aria-sort]').getAttribute('aria-sort')")
    js(click_score)
    facts["scores_after_second_click"] = js(scores)
    facts["images"] = js("document.images.length")
    facts["hostile_text_shown"] = js("document.body.textContent.indexOf('<img src=x onerror=alert(1)>') >= 0")
    shot_data = send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session)
    with open(shot, "wb") as f:
        f.write(base64.b64decode(shot_data["data"]))
    # Let late console messages arrive, then collect the errors.
    js("0")
    errors = []
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.exceptionThrown":
            errors.append(p["exceptionDetails"].get("text", "exception"))
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            errors.append(p["entry"].get("text", ""))
        elif m == "Page.javascriptDialogOpening":
            errors.append("dialog: " + p.get("message", ""))
    facts["console_errors"] = errors
    print(json.dumps(facts))
    try:
        send("Browser.close", timeout=10)
    except SystemExit:
        pass
finally:
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
