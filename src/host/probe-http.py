# host/probe-http.py: argv: url, host header, slot header ('' for the public route), expected
# version ('' for any), timeout seconds, successes needed. GETs the url one request at a time (low
# concurrency: warm-up must not fill Apache's workers) until it answers 200 with the version the
# given number of times in a row. Prints a JSON line with the last answer.
import json, sys, time, urllib.request, urllib.error
url, host, slot, version, timeout, need = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), int(sys.argv[6])
def matches(body):
    b = body.strip()
    if b == version:
        return True
    try:
        return json.loads(b).get('version') == version
    except Exception:
        return False
deadline = time.time() + timeout
last = {'status': None, 'body': '', 'error': None}
ok = 0
definite = None
while True:
    req = urllib.request.Request(url, headers={'Host': host, 'Connection': 'close', 'User-Agent': 'sitecycle-verify'})
    if slot:
        req.add_header('X-Sitecycle-Slot', slot)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            last = {'status': r.status, 'body': r.read(4000).decode('utf-8', 'replace'), 'error': None}
    except urllib.error.HTTPError as e:
        last = {'status': e.code, 'body': e.read(4000).decode('utf-8', 'replace'), 'error': None}
    except Exception as e:
        last = {'status': None, 'body': '', 'error': '%s: %s' % (type(e).__name__, e)}
    good = last['status'] == 200 and (not version or matches(last['body']))
    ok = ok + 1 if good else 0
    if ok >= need:
        print(json.dumps(last))
        sys.exit(0)
    # A server still starting answers 502-504 or not at all: wait for it up to the timeout.
    # Any other answer comes from the application itself: give it a short grace, then fail.
    if not good and last['status'] not in (None, 502, 503, 504):
        definite = definite or time.time()
        if time.time() - definite >= min(3.0, timeout):
            print(json.dumps(last))
            sys.exit(1)
    else:
        definite = None
    if time.time() >= deadline:
        print(json.dumps(last))
        sys.exit(1)
    time.sleep(0.02 if good else 0.25)
