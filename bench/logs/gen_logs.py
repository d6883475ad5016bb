#!/usr/bin/env python3
"""Generate the log corpus of the log benchmarks (bench/logs/bench_logs.py).

    python3 bench/logs/gen_logs.py OUTDIR [--size 1G] [--syslog-size 100M]
        [--tree-files 10000] [--tree-file-size 4K] [--seed 8] [--only WHAT,...]

Writes into OUTDIR (standard library only, deterministic for a seed):

  access.log      combined log format (Apache/nginx), --size bytes (about):
                  client IPs Zipf-distributed over 20,000 addresses, ident "-",
                  a user on a few lines, [30/Nov/2026:08:29:57 +0000] times
                  increasing evenly over November 2026 (so one hour is about
                  1/720 of the file), methods, paths with query strings,
                  HTTP versions, status codes at realistic frequencies, sizes,
                  referrers and user agents.
  access.log.gz   gzip -6 copy (gzip or pigz), and
  access.log.zst  zstd -3 copy (zstd), when those programs exist.
  syslog          "Nov 30 08:29:57 host prog[pid]: message" lines over the same
                  month, some followed by continuation lines (indented stack
                  traces), --syslog-size bytes.
  tree/           --tree-files small logs (about --tree-file-size each) in
                  nested directories (svcNN/hostNN/), named as rotation names
                  them: app.log, app.log.1, ..., error.log, access.log.3.
  manifest.json   what was generated: parameters, sizes, line counts, the first
                  and last times; a later run with the same parameters finds it
                  and generates nothing (delete OUTDIR or pass --force).

--only takes access,gz,zst,syslog,tree (default: all). Sizes accept K, M, G
suffixes (powers of 1024). A 1 GiB access log takes well under a minute: lines
are made of precomputed pools, written in chunks of about 8 MiB.
"""

import argparse
import bisect
import json
import os
import random
import shutil
import subprocess
import sys
import time

MONTH_START = 1793491200  # 2026-11-01T00:00:00Z
MONTH_SECONDS = 30 * 86400
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
VERSION = 1  # bump when the output for given parameters changes


def parse_size(text):
    t = text.strip().upper().rstrip("B")
    mult = 1
    for suf, m in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)):
        if t.endswith(suf):
            t, mult = t[:-1], m
            break
    v = float(t) * mult
    if v < 0:
        raise ValueError("negative size")
    return int(v)


def zipf_cum(n, s=1.1):
    """Cumulative weights of a Zipf-like distribution over n ranks."""
    cum, acc = [], 0.0
    for k in range(1, n + 1):
        acc += 1.0 / (k ** s)
        cum.append(acc)
    return cum


def pick(rng, pool, cum, k):
    """k items of pool drawn with cumulative weights cum (random.choices, inlined
    to avoid its per-call checks)."""
    total = cum[-1]
    hi = len(cum) - 1
    r = rng.random
    bis = bisect.bisect
    return [pool[bis(cum, r() * total, 0, hi)] for _ in range(k)]


class Clock:
    """Formats a second of the month in the styles of the logs, with caches of
    the per-day and per-time-of-day pieces (the formatting is the hot path)."""

    def __init__(self):
        self.tod = ["%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60) for s in range(86400)]
        self.clf_day = ["%02d/Nov/2026:" % (d + 1) for d in range(30)]
        self.sys_day = ["Nov %2d " % (d + 1) for d in range(30)]

    def clf(self, sec):
        d, s = divmod(sec, 86400)
        return self.clf_day[d] + self.tod[s] + " +0000"

    def syslog(self, sec):
        d, s = divmod(sec, 86400)
        return self.sys_day[d] + self.tod[s]


# ---------------------------------------------------------------------------
# access.log
# ---------------------------------------------------------------------------

STATUS = [("200", 80.0), ("304", 6.0), ("302", 3.5), ("404", 4.5), ("301", 1.5), ("206", 0.8),
          ("201", 1.2), ("204", 0.6), ("400", 0.7), ("401", 0.4), ("403", 0.4), ("499", 0.2),
          ("500", 0.15), ("502", 0.05), ("503", 0.08), ("504", 0.02)]
METHODS = [("GET", 86.0), ("POST", 9.0), ("HEAD", 2.0), ("PUT", 1.5), ("DELETE", 0.8),
           ("OPTIONS", 0.6), ("PATCH", 0.1)]
VERSIONS = [("HTTP/1.1", 70.0), ("HTTP/2.0", 25.0), ("HTTP/1.0", 5.0)]
WORDS = ("account admin api archive article assets auth blog cart catalog category checkout "
         "comments config dashboard docs download events export feed files help home images "
         "index invoice items js login logout media news orders page posts products profile "
         "reports search settings shop static status store support tags upload users v1 v2 "
         "widgets").split()
EXTS = ["", "", "", ".html", ".php", ".json", ".css", ".js", ".png", ".jpg", ".svg", ".ico",
        ".xml", ".txt", ".gif", ".woff2"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "curl/8.5.0", "Wget/1.21.4", "python-requests/2.32.3", "Go-http-client/2.0",
    "Prometheus/2.55.1", "kube-probe/1.31", "-",
]
REFERRERS_EXT = ["https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/",
                 "https://t.co/", "https://news.ycombinator.com/", "https://www.reddit.com/"]


def weights_cum(pairs):
    cum, acc = [], 0.0
    for _, w in pairs:
        acc += w
        cum.append(acc)
    return [v for v, _ in pairs], cum


def make_ip_pool(rng, n):
    ips, seen = [], set()
    while len(ips) < n:
        a = rng.choice((10, 23, 31, 45, 51, 62, 66, 77, 81, 85, 92, 104, 141, 151, 172, 178, 185,
                        188, 192, 193, 195, 203, 212, 217))
        ip = "%d.%d.%d.%d" % (a, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
        if ip not in seen:
            seen.add(ip)
            ips.append(ip)
    return ips


def make_paths(rng, n):
    """n distinct request targets (path, with a query string on some), most
    popular first."""
    out, seen = ["/", "/favicon.ico", "/robots.txt", "/index.html", "/health", "/api/v1/status"], set()
    seen.update(out)
    while len(out) < n:
        depth = rng.choice((1, 1, 2, 2, 2, 3, 3, 4))
        parts = [rng.choice(WORDS) for _ in range(depth)]
        if rng.random() < 0.3:
            parts.append(str(rng.randrange(1, 100000)))
        p = "/" + "/".join(parts) + rng.choice(EXTS)
        if rng.random() < 0.25:
            q = "&".join("%s=%s" % (rng.choice(("q", "id", "page", "sort", "lang", "ref", "utm_source",
                                                 "limit", "offset", "token")),
                                    rng.choice(("1", "2", "10", "en", "de", "asc", "desc", "mail",
                                                str(rng.randrange(1, 10 ** 6)), "a%20b")))
                         for _ in range(rng.randrange(1, 4)))
            p += "?" + q
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def access_pools(rng):
    ips = make_ip_pool(rng, 20000)
    ip_cum = zipf_cum(len(ips), 1.05)
    paths = make_paths(rng, 50000)
    path_cum = zipf_cum(len(paths), 1.0)
    # the rare request the -C job looks for: about 1 line in 50,000
    paths.append("/admin/debug/dump?full=1")
    path_cum.append(path_cum[-1] + path_cum[-1] / 50000)
    users = ["-"] * 97 + ["alice", "bob", "svc-backup"]
    methods, m_cum = weights_cum(METHODS)
    versions, v_cum = weights_cum(VERSIONS)
    statuses, s_cum = weights_cum(STATUS)
    # sizes: many small, some large, per status class (304/204 have none)
    sizes = [str(int(rng.lognormvariate(8.5, 1.6))) for _ in range(4096)]
    refs = ["-"] * 6 + REFERRERS_EXT + ["https://example.com" + rng.choice(paths[:2000]).split("?")[0]
                                        for _ in range(40)]
    ua_cum = zipf_cum(len(AGENTS), 0.9)
    return dict(ips=ips, ip_cum=ip_cum, paths=paths, path_cum=path_cum, users=users,
                methods=methods, m_cum=m_cum, versions=versions, v_cum=v_cum,
                statuses=statuses, s_cum=s_cum, sizes=sizes, refs=refs, ua_cum=ua_cum)


def access_chunk(rng, P, clock, first, k, nlines_est):
    """Lines first .. first+k-1 as one string."""
    ips = pick(rng, P["ips"], P["ip_cum"], k)
    paths = pick(rng, P["paths"], P["path_cum"], k)
    methods = pick(rng, P["methods"], P["m_cum"], k)
    vers = pick(rng, P["versions"], P["v_cum"], k)
    stats = pick(rng, P["statuses"], P["s_cum"], k)
    uas = pick(rng, AGENTS, P["ua_cum"], k)
    users, sizes, refs = P["users"], P["sizes"], P["refs"]
    r = rng.random
    nu, ns, nr = len(users), len(sizes), len(refs)
    span = MONTH_SECONDS
    last = MONTH_SECONDS - 1
    out = []
    for i in range(k):
        sec = (first + i) * span // nlines_est
        if sec > last:
            sec = last
        st = stats[i]
        size = "0" if st in ("304", "204") else sizes[int(r() * ns)]
        out.append('%s - %s [%s] "%s %s %s" %s %s "%s" "%s"\n' % (
            ips[i], users[int(r() * nu)], clock.clf(sec), methods[i], paths[i], vers[i], st, size,
            refs[int(r() * nr)], uas[i]))
    return "".join(out)


def gen_access(path, size, seed, log):
    rng = random.Random(seed)
    P = access_pools(rng)
    clock = Clock()
    # the average line length, from a sample, fixes how many lines the month holds
    sample = access_chunk(random.Random(seed + 1), P, clock, 0, 2000, 10 ** 6)
    avg = len(sample.encode()) / 2000
    nlines_est = max(1, int(size / avg))
    written = lines = 0
    t0 = time.time()
    with open(path, "wb") as f:
        while written < size:
            k = min(40000, max(1, int((size - written) / avg) + 1))
            data = access_chunk(rng, P, clock, lines, k, nlines_est).encode()
            if written + len(data) > size:  # cut at a line end near the target
                cut = data.rfind(b"\n", 0, size - written)
                data = data[:cut + 1] if cut >= 0 else data[:data.index(b"\n") + 1]
                size = written + len(data)  # the last chunk
            f.write(data)
            written += len(data)
            lines += data.count(b"\n")
    log("gen_logs: %s: %d bytes, %d lines (%.1f s)" % (path, written, lines, time.time() - t0))
    return {"bytes": written, "lines": lines, "lines_per_month_estimate": nlines_est}


# ---------------------------------------------------------------------------
# syslog and the tree
# ---------------------------------------------------------------------------

PROGS = [("sshd", 8.0), ("CRON", 6.0), ("kernel", 4.0), ("systemd", 6.0), ("nginx", 3.0),
         ("postfix/smtpd", 2.0), ("app", 10.0), ("dockerd", 2.0), ("sudo", 1.0)]
MESSAGES = {
    "sshd": ["Accepted publickey for deploy from {ip} port {port} ssh2: ED25519 SHA256:{tok}",
             "Failed password for invalid user {user} from {ip} port {port} ssh2",
             "Connection closed by authenticating user root {ip} port {port} [preauth]",
             "pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)"],
    "CRON": ["(root) CMD (run-parts /etc/cron.hourly)", "pam_unix(cron:session): session closed "
             "for user root", "(www-data) CMD (php /var/www/cron.php >/dev/null 2>&1)"],
    "kernel": ["[{n}.{port}] TCP: request_sock_TCP: Possible SYN flooding on port 443.",
               "[{n}.{port}] EXT4-fs (sda1): re-mounted. Opts: (null)",
               "[{n}.{port}] Out of memory: Killed process {pid} (java) total-vm:{n}kB"],
    "systemd": ["Started Session {n} of User deploy.", "Starting Daily apt upgrade and clean "
                "activities...", "logrotate.service: Succeeded.", "Reloading."],
    "nginx": ["{ip} - - upstream timed out (110: Connection timed out) while reading response",
              "worker process {pid} exited on signal 9"],
    "postfix/smtpd": ["connect from unknown[{ip}]", "disconnect from unknown[{ip}] ehlo=1 "
                      "auth=0/1 commands=1/2", "NOQUEUE: reject: RCPT from unknown[{ip}]: 554 5.7.1"],
    "app": ["INFO request id={tok} user={user} path=/api/v1/orders took={port}ms",
            "WARN slow query took={n}ms table=orders", "ERROR unhandled exception in worker {pid}",
            "INFO cache hit ratio=0.{port}", "DEBUG heartbeat ok"],
    "dockerd": ["time=\"2026-11-30T08:29:57Z\" level=info msg=\"ignoring event\" container={tok}"],
    "sudo": ["deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl "
             "restart app"],
}
TRACE = ["Traceback (most recent call last):",
         '  File "/srv/app/worker.py", line {n}, in run',
         "    result = handler(job)",
         '  File "/srv/app/jobs.py", line {port}, in handler',
         "    raise RuntimeError(\"job {tok} failed\")",
         "RuntimeError: job {tok} failed"]


def syslog_lines(rng, clock, first, k, nlines_est, hosts, ips):
    progs, p_cum = weights_cum(PROGS)
    out = []
    for i in range(k):
        sec = min(MONTH_SECONDS - 1, (first + i) * MONTH_SECONDS // nlines_est)
        prog = progs[bisect.bisect(p_cum, rng.random() * p_cum[-1], 0, len(p_cum) - 1)]
        msg = rng.choice(MESSAGES[prog])
        fill = dict(ip=rng.choice(ips), port=rng.randrange(1024, 65535), tok="%08x" % rng.getrandbits(32),
                    user=rng.choice(("admin", "test", "oracle", "ubuntu", "deploy")),
                    n=rng.randrange(1, 100000), pid=rng.randrange(300, 99999))
        out.append("%s %s %s[%d]: %s\n" % (clock.syslog(sec), rng.choice(hosts), prog,
                                           fill["pid"], msg.format(**fill)))
        if prog == "app" and msg.startswith("ERROR"):
            out.extend("\t" + t.format(**fill) + "\n" for t in TRACE)
    return "".join(out)


def gen_syslog(path, size, seed, log):
    rng = random.Random(seed + 2)
    clock = Clock()
    hosts = ["web%02d" % i for i in range(1, 9)] + ["db01", "db02", "cache01"]
    ips = make_ip_pool(rng, 2000)
    sample = syslog_lines(random.Random(seed + 3), clock, 0, 2000, 10 ** 6, hosts, ips)
    avg = len(sample.encode()) / sample.count("\n")
    nlines_est = max(1, int(size / avg))
    written = lines = first = 0
    t0 = time.time()
    with open(path, "wb") as f:
        while written < size:
            k = min(20000, max(1, int((size - written) / avg) + 1))
            data = syslog_lines(rng, clock, first, k, nlines_est, hosts, ips).encode()
            first += k
            if written + len(data) > size:  # cut before a timestamped line
                cut = data.rfind(b"\nNov ", 0, size - written)
                data = data[:cut + 1] if cut >= 0 else data[:data.index(b"\n") + 1]
                size = written + len(data)  # the last chunk
            f.write(data)
            written += len(data)
            lines += data.count(b"\n")
    log("gen_logs: %s: %d bytes, %d lines (%.1f s)" % (path, written, lines, time.time() - t0))
    return {"bytes": written, "lines": lines}


def gen_tree(root, nfiles, file_size, seed, log):
    """nfiles small logs: svcNN/hostNN/{app,error,access}.log[.N]."""
    rng = random.Random(seed + 4)
    clock = Clock()
    P = access_pools(random.Random(seed))
    hosts = ["web%02d" % i for i in range(1, 9)]
    ips = P["ips"][:500]
    if os.path.isdir(root):
        shutil.rmtree(root)
    t0 = time.time()
    total = lines = 0
    names = []
    per_dir = 25  # files per leaf directory
    for i in range(nfiles):
        d = i // per_dir
        svc, host = d // 20, d % 20
        base = ("app.log", "error.log", "access.log")[i % 3]
        rot = (i % per_dir) // 3
        names.append(os.path.join("svc%02d" % svc, "host%02d" % host,
                                  base + ("" if rot == 0 else ".%d" % rot)))
    made = set()
    for i, rel in enumerate(names):
        p = os.path.join(root, rel)
        dn = os.path.dirname(p)
        if dn not in made:
            os.makedirs(dn, exist_ok=True)
            made.add(dn)
        want = max(64, int(file_size * rng.uniform(0.5, 1.5)))
        # each file covers about a day somewhere in the month
        if rel.split("/")[-1].startswith("access"):
            est = max(1, want // 200)
            data = access_chunk(rng, P, clock, rng.randrange(est * 29), est, est * 30)
        else:
            est = max(1, want // 90)
            data = syslog_lines(rng, clock, rng.randrange(est * 29), est, est * 30, hosts, ips)
        b = data.encode()
        with open(p, "wb") as f:
            f.write(b)
        total += len(b)
        lines += b.count(b"\n")
    log("gen_logs: %s: %d files, %d bytes, %d lines (%.1f s)" % (root, nfiles, total, lines,
                                                               time.time() - t0))
    return {"files": nfiles, "bytes": total, "lines": lines}


def compress(src, dst, argv_choices, log):
    """Write dst with the first available compressor of argv_choices (each an
    argv reading src on stdin... given as a list with '{src}'). None if none is
    installed."""
    for argv in argv_choices:
        if shutil.which(argv[0]):
            t0 = time.time()
            tmp = dst + ".tmp"
            with open(src, "rb") as fi, open(tmp, "wb") as fo:
                subprocess.run(argv, stdin=fi, stdout=fo, check=True)
            os.replace(tmp, dst)
            log("gen_logs: %s: %d bytes with %s (%.1f s)" % (dst, os.path.getsize(dst), argv[0],
                                                              time.time() - t0))
            return argv[0]
    return None


def first_last_clf(path):
    with open(path, "rb") as f:
        head = f.readline()
        f.seek(max(0, os.path.getsize(path) - 4096))
        tail = f.read().splitlines()[-1] if os.path.getsize(path) else b""

    def t(line):
        a = line.find(b"[")
        return line[a + 1:a + 27].decode() if a >= 0 else None
    return t(head), t(tail)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--size", default="1G", help="access.log size (default 1G)")
    ap.add_argument("--syslog-size", default=None, help="syslog size (default size/10)")
    ap.add_argument("--tree-files", type=int, default=10000)
    ap.add_argument("--tree-file-size", default="4K")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--only", default="access,gz,zst,syslog,tree")
    ap.add_argument("--force", action="store_true", help="generate even if the manifest matches")
    a = ap.parse_args(argv)
    try:
        size = parse_size(a.size)
        ssize = parse_size(a.syslog_size) if a.syslog_size else size // 10
        fsize = parse_size(a.tree_file_size)
    except ValueError as e:
        ap.error("bad size: %s" % e)
    if a.tree_files < 0:
        ap.error("--tree-files must be >= 0")
    only = [w for w in a.only.split(",") if w]
    bad = set(only) - {"access", "gz", "zst", "syslog", "tree"}
    if bad:
        ap.error("--only: unknown part(s) %s" % ",".join(sorted(bad)))

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    os.makedirs(a.outdir, exist_ok=True)
    mpath = os.path.join(a.outdir, "manifest.json")
    params = {"version": VERSION, "size": size, "syslog_size": ssize, "tree_files": a.tree_files,
              "tree_file_size": fsize, "seed": a.seed, "only": sorted(only)}
    if not a.force and os.path.exists(mpath):
        try:
            with open(mpath) as f:
                old = json.load(f)
            if old.get("params") == params and all(
                    os.path.exists(os.path.join(a.outdir, p)) for p in old.get("files", {})):
                log("gen_logs: %s is up to date" % a.outdir)
                print(mpath)
                return 0
        except (OSError, ValueError):
            pass
        os.remove(mpath)
    files = {}
    acc = os.path.join(a.outdir, "access.log")
    if "access" in only or (("gz" in only or "zst" in only) and not os.path.exists(acc)):
        files["access.log"] = gen_access(acc, size, a.seed, log)
        first, last = first_last_clf(acc)
        files["access.log"].update(first=first, last=last)
    if "gz" in only:
        tool = compress(acc, acc + ".gz", [["pigz", "-6", "-c"], ["gzip", "-6", "-c"]], log)
        if tool:
            files["access.log.gz"] = {"bytes": os.path.getsize(acc + ".gz"), "tool": tool}
    if "zst" in only:
        tool = compress(acc, acc + ".zst", [["zstd", "-3", "-q", "-c", "-T0"]], log)
        if tool:
            files["access.log.zst"] = {"bytes": os.path.getsize(acc + ".zst"), "tool": tool}
    if "syslog" in only:
        files["syslog"] = gen_syslog(os.path.join(a.outdir, "syslog"), ssize, a.seed, log)
    if "tree" in only:
        files["tree"] = gen_tree(os.path.join(a.outdir, "tree"), a.tree_files, fsize, a.seed, log)
    with open(mpath, "w") as f:
        json.dump({"params": params, "files": files}, f, indent=1)
    print(mpath)
    return 0


if __name__ == "__main__":
    sys.exit(main())
