"""Loads what kubectl-voice renders into the programs that read it (see scripts/test-contracts).

Each check reads the golden manifests, runs the real program on the rendered input, prints one
line with its counts, and then feeds the same check a deliberately broken copy, which must fail:
a check that cannot fail proves nothing. Exit status 1 on any failure.

Programs come from the environment: CHDB_PYTHON (a Python with chdb), PG_BIN (PostgreSQL's
bin directory), REDIS_SERVER / REDIS_CLI, PROMTOOL, AMTOOL. An empty one means "skipped", and
the reason is in SKIP_<NAME>.
"""
import copy
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
failed = []


pending = {}


def say(check, text):
    """One line per check: its parts are printed together once the check is done."""
    pending.setdefault(check, []).append(text)


def fail(check, text):
    failed.append(f"{check}: {text}")


def skipped(name):
    return os.environ.get(f"SKIP_{name}", "unavailable")


def load(paths):
    """profile -> list of objects."""
    out = {}
    for path in paths:
        docs = [d for d in yaml.safe_load_all(open(path)) if d]
        out[os.path.basename(path).rsplit(".", 1)[0]] = docs
    return out


def pod_spec(doc):
    if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
        return doc["spec"]["template"]["spec"]
    return None


def find(docs, kind, name_prefix, namespace=None):
    for d in docs:
        if d["kind"] == kind and d["metadata"]["name"].startswith(name_prefix):
            if namespace is None or d["metadata"].get("namespace") == namespace:
                return d
    return None


def config_maps(docs):
    return {
        (d["metadata"].get("namespace"), d["metadata"]["name"]): d.get("data") or {}
        for d in docs
        if d["kind"] == "ConfigMap"
    }


def lay_out_mounts(root, container, spec, cms, namespace):
    """Writes each ConfigMap-backed mount of `container` under `root` at its mount path."""
    vols = {v["name"]: v for v in spec.get("volumes") or []}
    written = []
    for m in container.get("volumeMounts") or []:
        cm = (vols.get(m["name"]) or {}).get("configMap")
        if not cm:
            os.makedirs(root + m["mountPath"], exist_ok=True)
            continue
        data = cms[(namespace, cm["name"])]
        if m.get("subPath"):
            items = {m["mountPath"]: data[m["subPath"]]}
        else:
            items = {f"{m['mountPath']}/{k}": v for k, v in data.items()}
        for path, text in items.items():
            os.makedirs(os.path.dirname(root + path), exist_ok=True)
            with open(root + path, "w") as f:
                f.write(text)
            written.append(path)
    return written


def env_of(container, secrets):
    """A container's env, with every Secret reference replaced by a dummy (named after its key)."""
    env = {}
    for e in container.get("env") or []:
        if "value" in e:
            env[e["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), ""), e["value"])
        elif "secretKeyRef" in (e.get("valueFrom") or {}):
            key = e["valueFrom"]["secretKeyRef"]["key"]
            env[e["name"]] = secrets.setdefault(key, f"dummy-{key.lower()}-Q'x")
    return env


# ---------------------------------------------------------------- ClickHouse (chdb)

# The clickhouse-server image's own users.xml, reduced to its default user as the image ships it:
# since ClickHouse 23.11 (PR #56619) that user has access_management and named_collection_control
# (programs/server/users.xml@022a8859); CLICKHOUSE_SKIP_USER_SETUP=1 keeps the entrypoint from
# changing it. Our users.d files merge into it, as on the server.
IMAGE_USERS_XML = """<clickhouse>
  <profiles><default/><readonly><readonly>1</readonly></readonly></profiles>
  <users><default><password></password><networks><ip>::/0</ip></networks>
    <profile>default</profile><quota>default</quota>
    <access_management>1</access_management><named_collection_control>1</named_collection_control></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</clickhouse>
"""
# Stand-in for the UDF programs (they ship in the PostHog app image and cannot run here): answers
# every row with an empty result, which is a valid value of every Array return type. It proves
# ClickHouse accepts the definitions, type-checks a call and speaks the declared format to the
# program; not what the real aggregate_funnel computes.
UDF_STUB = '#!/bin/sh\nwhile IFS= read -r line; do printf \'{"result":[]}\\n\'; done\n'
CH_ETC = "/etc/clickhouse-server"
# The named collections PostHog's Kafka tables name (posthog/clickhouse/kafka_engine.py@01f0398d,
# defined in docker/clickhouse/config.d/default.xml@10db52b7): a Kafka table is created on each,
# which is what the migrations do; a missing one fails with NAMED_COLLECTION_DOESNT_EXIST.
KAFKA_COLLECTIONS_NEEDED = ["msk_cluster", "warpstream_ingestion"]


def clickhouse_config(docs):
    """(files by path, env) of the PostHog ClickHouse container, or None."""
    sts = find(docs, "StatefulSet", "posthog-clickhouse", "posthog")
    if not sts:
        return None
    spec = pod_spec(sts)
    ch = next(c for c in spec["containers"] if c["name"] == "clickhouse")
    root = tempfile.mkdtemp(prefix="ch-layout-")
    lay_out_mounts(root, ch, spec, config_maps(docs), "posthog")
    files = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            files[p[len(root):]] = open(p).read()
    shutil.rmtree(root)
    return files, env_of(ch, {})


def clickhouse_run(chdb_python, files, env):
    """Lays the server's files out under a temp root, loads them with chdb, returns
    (facts, failures)."""
    problems = []
    root = tempfile.mkdtemp(prefix="ch-")
    try:
        for path, text in files.items():
            # Absolute /etc/clickhouse-server paths inside the XML point into the temp root.
            text = text.replace(CH_ETC + "/", root + CH_ETC + "/")
            os.makedirs(os.path.dirname(root + path), exist_ok=True)
            with open(root + path, "w") as f:
                f.write(text)
        scripts = root + "/var/lib/clickhouse/user_scripts"
        os.makedirs(scripts, exist_ok=True)
        with open(root + CH_ETC + "/users.xml", "w") as f:
            f.write(IMAGE_USERS_XML)
        with open(root + CH_ETC + "/config.xml", "w") as f:
            f.write(f"<clickhouse><users_config>{root}{CH_ETC}/users.xml</users_config>"
                    f"<user_scripts_path>{scripts}/</user_scripts_path></clickhouse>\n")
        # What the rendered XML promises.
        def parsed(pred):
            out = []
            for p, t in files.items():
                if pred(p):
                    try:
                        out.append(ET.fromstring(t))
                    except ET.ParseError as e:  # chdb's verdict on it follows below
                        problems.append(f"{p}: not XML ({e})")
            return out

        cluster_xml = parsed(lambda p: p.startswith(CH_ETC + "/config.d/"))
        users_xml = parsed(lambda p: p.startswith(CH_ETC + "/users.d/"))
        func_xml = parsed(lambda p: p.endswith("_function.xml"))
        clusters = {c.tag: c.findtext("shard/replica/host") for x in cluster_xml for c in x.findall("remote_servers/*")}
        collections = sorted(c.tag for x in cluster_xml for c in x.findall("named_collections/*"))
        macros = {m.tag: m.text for x in cluster_xml for m in x.findall("macros/*")}
        profile = {s.tag: s.text for x in users_xml for s in x.findall("profiles/default/*")}
        functions = {f.findtext("name"): f for x in func_xml for f in x.findall("function")}
        for f in functions.values():
            prog = os.path.join(scripts, f.findtext("command").split()[0])
            with open(prog, "w") as fh:
                fh.write(UDF_STUB)
            os.chmod(prog, 0o755)
        stmts = []
        for c in KAFKA_COLLECTIONS_NEEDED:
            stmts.append(f"CREATE TABLE kafka_{c} (x String) ENGINE = Kafka({c}, kafka_topic_list = 't', "
                         f"kafka_group_name = 'g', kafka_format = 'JSONEachRow')")
        stmts.append("SELECT name FROM system.tables WHERE engine = 'Kafka' ORDER BY name")
        for s in profile:
            stmts.append(f"SELECT getSetting('{s}')")
        for name, f in functions.items():
            args = ", ".join(f"defaultValueOfTypeName('{a.findtext('type')}')" for a in f.findall("argument"))
            stmts.append(f"SELECT toTypeName({name}({args})), length({name}({args}))")
        r = subprocess.run([chdb_python, os.path.join(HERE, "clickhouse_probe.py"),
                            root + CH_ETC + "/config.xml", *stmts],
                           env={**os.environ, **env}, capture_output=True, text=True, cwd=root)
        if r.returncode != 0:
            return {}, [f"chdb crashed: {r.stderr.strip()[-400:]}"]
        out = json.loads(r.stdout)
        if out["error"]:
            return out, problems + [f"config not loaded by chdb: {out['error']}"]
        rows = out["rows"]
        got = {c: h for c, h, _ in rows["clusters"]}
        if got != clusters:
            problems.append(f"clusters loaded {sorted(got)} != rendered {sorted(clusters)}")
        if dict(rows["macros"]) != macros:
            problems.append(f"macros loaded {rows['macros']} != rendered {macros}")
        if [r[0] for r in rows["collections"]] != collections:
            problems.append(f"named collections loaded {rows['collections']} != rendered {collections}")
        loaded = {n: (st, err) for n, st, err in rows["functions"]}
        for name in functions:
            st, err = loaded.get(name, ("missing", ""))
            if st != "Success":
                problems.append(f"UDF {name}: {st} {err}".strip())
        kafka_tables = out["statements"].get(stmts[len(KAFKA_COLLECTIONS_NEEDED)], {}).get("rows", [])
        for stmt, res in out["statements"].items():
            # chdb cannot start a Kafka table's consumers ("Shutdown was called") after it has
            # checked the grant and the collection's settings and registered the table: a
            # table that is then listed counts as created.
            if "error" in res and "Shutdown was called" in res["error"] and stmt.startswith("CREATE TABLE kafka_"):
                if [stmt.split()[2]] in kafka_tables:
                    continue
            if "error" in res:
                problems.append(f"{stmt[:70]}...: {res['error']}")
            elif stmt.startswith("SELECT getSetting("):
                name = stmt.split("'")[1]
                if res["rows"][0][0] != profile[name]:
                    problems.append(f"profile setting {name} = {res['rows'][0][0]}, rendered {profile[name]}")
            elif stmt.startswith("SELECT toTypeName("):
                name = stmt[len("SELECT toTypeName("):].split("(")[0]
                if res["rows"][0][0] != functions[name].findtext("return_type"):
                    problems.append(f"UDF {name} returned {res['rows'][0][0]}")
        facts = {"engine": out["engine"], "clusters": len(clusters), "collections": len(collections),
                 "macros": len(macros), "settings": len(profile), "functions": len(functions)}
        return facts, problems
    finally:
        shutil.rmtree(root, ignore_errors=True)


def check_clickhouse(profiles):
    py = os.environ.get("CHDB_PYTHON")
    if not py:
        say("clickhouse", f"skipped: {skipped('CHDB')}")
        return
    seen, facts, example = {}, None, None
    for profile, docs in profiles.items():
        cfg = clickhouse_config(docs)
        if not cfg:
            continue
        key = json.dumps(cfg, sort_keys=True)
        if key in seen:
            continue
        seen[key] = profile
        facts, problems = clickhouse_run(py, *cfg)
        example = example or cfg
        for p in problems:
            fail("clickhouse", f"{profile}: {p}")
    if not example:
        fail("clickhouse", "no PostHog ClickHouse StatefulSet in the manifests")
        return
    say("clickhouse", f"chdb engine {facts.get('engine')}: {len(seen)} distinct configs loaded; "
        f"{facts.get('clusters')} clusters, {facts.get('macros')} macros, {facts.get('collections')} "
        f"named collections (a Kafka table on each one PostHog names), {facts.get('settings')} profile settings, "
        f"{facts.get('functions')} executable UDFs called through a stand-in program "
        "(the real programs ship in the PostHog image and cannot run here)")
    # Broken copies: each must be refused.
    files, env = example
    cluster = next(p for p in files if "/config.d/" in p)
    funcs = next(p for p in files if p.endswith("_function.xml"))
    users = next(p for p in files if "/users.d/" in p)
    breakages = {
        "unclosed XML tag": {**files, cluster: files[cluster].replace("</remote_servers>", "", 1)},
        "unknown UDF return type": {**files, funcs: files[funcs].replace("<return_type>Array(", "<return_type>Arrray(", 1)},
        "users.d revoking the named-collection grant": {**files, users: files[users].replace(
            "</clickhouse>", "  <users><default><named_collection_control>0</named_collection_control></default></users>\n</clickhouse>")},
        "msk_cluster not defined": {**files, cluster: files[cluster].replace("msk_cluster>", "msk_gone>")},
    }
    refused = 0
    for what, broken in breakages.items():
        _, problems = clickhouse_run(py, broken, env)
        # The XML parser alone does not count: ClickHouse itself must refuse it.
        if [p for p in problems if "not XML" not in p]:
            refused += 1
        else:
            fail("clickhouse", f"negative case not caught: {what}")
    say("clickhouse", f"{refused}/{len(breakages)} broken copies refused")


# ---------------------------------------------------------------- Pod sandbox

def sandbox_available():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return "needs root and unshare (private network, hostname and /etc/hosts for a pod's view)"
    r = subprocess.run(["unshare", "-m", "-u", "-n", "true"], capture_output=True)
    return None if r.returncode == 0 else "unshare -m -u -n is not permitted here"


def in_pod(script, hosts, hostname, env, timeout=120):
    """Runs `script` (sh) in private mount/UTS/network namespaces: loopback only, `hostname`
    set, /etc/hosts replaced by `hosts` (name -> address), as the pod would see them."""
    hosts_file = tempfile.NamedTemporaryFile("w", delete=False, prefix="hosts-")
    hosts_file.write("127.0.0.1 localhost\n" + "".join(f"{a} {n}\n" for n, a in hosts.items()))
    hosts_file.close()
    os.chmod(hosts_file.name, 0o644)
    wrapper = (f"ip link set lo up && mount --bind {hosts_file.name} /etc/hosts && "
               f"hostname {hostname} && exec sh -c \"$0\"")
    try:
        p = subprocess.Popen(["unshare", "-m", "-u", "-n", "--fork", "--kill-child", "sh", "-c", wrapper, script],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            return subprocess.CompletedProcess(p.args, 124, out, err + f"\ntimed out after {timeout}s")
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)
    finally:
        os.unlink(hosts_file.name)


# ---------------------------------------------------------------- PostgreSQL

def init_jobs(docs):
    """Init Jobs that run psql, with their database server's StatefulSet."""
    out = []
    for d in docs:
        spec = pod_spec(d)
        if d["kind"] != "Job" or not spec:
            continue
        for c in spec["containers"]:
            argv = (c.get("command") or []) + (c.get("args") or [])
            if "psql" not in " ".join(argv):
                continue
            env = {e["name"]: e for e in c.get("env") or []}
            host = env["PGHOST"]["value"]
            svc, ns = host.split(".")[:2]
            server = find(docs, "StatefulSet", svc, ns)
            out.append((d, c, server))
    return out


def pg_server_env(server, secrets):
    c = pod_spec(server)["containers"][0]
    return env_of(c, secrets)


PG_START = r"""
set -eu
pgdata={tmp}/data
mkdir -p {tmp}/sock && chown {user} {tmp} {tmp}/sock
printf '%s' "$POSTGRES_PASSWORD" > {tmp}/pw && chown {user} {tmp}/pw
as() {{ setpriv --reuid={user} --regid={group} --clear-groups "$@"; }}
as {bin}/initdb -D "$pgdata" -U "$POSTGRES_USER" --pwfile={tmp}/pw --auth-local=trust --auth-host=scram-sha-256 >/dev/null
echo "listen_addresses = '127.0.0.1'" >> "$pgdata/postgresql.conf"
echo "unix_socket_directories = '{tmp}/sock'" >> "$pgdata/postgresql.conf"
as {bin}/pg_ctl -D "$pgdata" -l {tmp}/log -w start >/dev/null
# As the image's entrypoint does: POSTGRES_DB is created when it is not "postgres".
if [ "${{POSTGRES_DB:-postgres}}" != postgres ]; then
  as {bin}/psql -h {tmp}/sock -U "$POSTGRES_USER" -d postgres -qc "CREATE DATABASE \"$POSTGRES_DB\""
fi
export PATH={bin}:$PATH
export PGPORT=5432
run() {{ sh -c "$JOB_SCRIPT"; }}
rc=0
run || rc=$?; echo "first run: $rc"
[ "$rc" = 0 ] && {{ run || rc=$?; echo "second run: $rc"; }}
if [ "$rc" = 0 ]; then
  while read -r role pw db; do
    [ -n "$role" ] || continue
    PGPASSWORD="$pw" psql -h "$PGHOST" -U "$role" -d "$db" -tAc "SELECT 'promise: ' || current_user || ' ' || current_database() || ' ' || (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database())" \
      || echo "cannot log in: $role to $db"
  done <<EOF
$EXPECT
EOF
fi
as {bin}/pg_ctl -D "$pgdata" -m fast stop >/dev/null
exit $rc
"""


def promised(script, env):
    """(role, password, database) triples the script promises, read from its statements:
    CREATE DATABASE x OWNER y, the role's password from ALTER ROLE ... :'pw' with -v pw="$VAR"."""
    owners = re.findall(r"CREATE DATABASE (\$?\w+) OWNER (\w+)", script)
    loop = re.search(r"for db in ([\w ]+); do", script)
    out = []
    for db, owner in owners:
        dbs = loop.group(1).split() if db.startswith("$") and loop else [db]
        pw_var = re.search(rf"ALTER ROLE {owner} .*-v pw=\"\$(\w+)\"", script)
        pw = env[pw_var.group(1)] if pw_var else env["PGPASSWORD"]
        out += [(owner, pw, d) for d in dbs]
    return out


def check_postgres(profiles):
    pg_bin = os.environ.get("PG_BIN")
    reason = None if pg_bin else skipped("PG")
    reason = reason or sandbox_available()
    if reason:
        say("postgres", f"skipped: {reason}")
        return
    user = "nobody"
    group = pwd.getpwnam(user).pw_gid
    seen, runs, dbs, negative = set(), 0, 0, None
    for profile, docs in profiles.items():
        for job, c, server in init_jobs(docs):
            script = c["command"][2]
            key = (script, json.dumps(c.get("env"), sort_keys=True), json.dumps(pod_spec(server)["containers"][0].get("env"), sort_keys=True))
            if key in seen:
                continue
            seen.add(key)
            secrets = {}
            server_env = pg_server_env(server, secrets)
            env = env_of(c, secrets)
            expect = promised(script, env)
            name = f"{profile} {job['metadata']['namespace']}/{job['metadata']['name']}"
            r = pg_run(pg_bin, user, group, script, env, server_env, expect)
            runs += 1
            dbs += len(expect)
            if r.returncode != 0:
                fail("postgres", f"{name}: exit {r.returncode}\n{r.stdout[-600:]}{r.stderr[-600:]}")
                continue
            got = [l for l in r.stdout.splitlines() if l.startswith(("promise: ", "cannot log in"))]
            want = [f"promise: {role} {db} {role}" for role, _, db in expect]
            if got != want:
                fail("postgres", f"{name}: after two runs {got} != {want}")
            negative = negative or (script, env, server_env)
    say("postgres", f"PostgreSQL {pg_version(pg_bin)}: {runs} distinct init Jobs run twice each against a "
        f"fresh server with their own env; {dbs} databases reachable by their owners with their passwords")
    if negative:
        script, env, server_env = negative
        bad = script.replace("CREATE DATABASE", "CREATE DATABSE", 1)
        r = pg_run(pg_bin, user, group, bad, env, server_env, [])
        say("postgres", "broken copy (misspelt CREATE DATABASE) refused" if r.returncode != 0 else "broken copy NOT refused")
        if r.returncode == 0:
            fail("postgres", "negative case not caught: misspelt CREATE DATABASE")


def pg_version(pg_bin):
    out = subprocess.run([f"{pg_bin}/postgres", "--version"], capture_output=True, text=True).stdout
    return re.search(r"\d+\.\d+", out).group(0)


def pg_run(pg_bin, user, group, script, env, server_env, expect):
    tmp = tempfile.mkdtemp(prefix="pg-")
    try:
        env = {"PATH": os.environ["PATH"], **server_env, **env, "JOB_SCRIPT": script,
               "EXPECT": "\n".join(" ".join(t) for t in expect)}
        body = PG_START.format(tmp=tmp, user=user, group=group, bin=pg_bin)
        return in_pod(body, {env["PGHOST"]: "127.0.0.1"}, "init-job", env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- Redis

def redis_containers(docs):
    for d in docs:
        spec = pod_spec(d)
        if not spec:
            continue
        for c in spec["containers"]:
            argv = (c.get("command") or []) + (c.get("args") or [])
            if argv and (argv[0] == "redis-server" or (len(argv) == 3 and "exec redis-server" in argv[2])):
                yield d, spec, c


def check_redis(profiles):
    server, cli = os.environ.get("REDIS_SERVER"), os.environ.get("REDIS_CLI")
    reason = None if server and cli else skipped("REDIS")
    reason = reason or sandbox_available()
    if reason:
        say("redis", f"skipped: {reason}")
        return
    seen, started, negative = set(), 0, None
    for profile, docs in profiles.items():
        pods = {}
        for d, spec, c in redis_containers(docs):
            pods.setdefault((d["metadata"].get("namespace"), d["metadata"]["name"]), []).append((d, c))
        for (ns, name), containers in pods.items():
            key = json.dumps([[c.get("command"), c.get("args"), c.get("env")] for _, c in containers], sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            r = redis_pod(server, cli, containers)
            started += len(containers)
            if r.returncode != 0:
                fail("redis", f"{profile} {ns}/{name}: {r.stdout[-800:]}{r.stderr[-400:]}")
            negative = negative or containers
    ver = subprocess.run([server, "--version"], capture_output=True, text=True).stdout.split()[2].removeprefix("v=")
    say("redis", f"redis-server {ver}: {started} distinct rendered redis/sentinel containers started with "
        f"their own command lines and config, each answered PING")
    d, c = negative[0]
    bad = copy.deepcopy(c)
    if bad.get("args"):
        bad["args"] = bad["args"] + ["--maxmemory-policy", "allkeys-lruu"]
    else:
        bad["command"][2] = bad["command"][2].replace("appendonly yes", "appendonly yess")
    r = redis_pod(server, cli, [(d, bad)])
    say("redis", "broken copy (bad directive value) refused" if r.returncode != 0 else "broken copy NOT refused")
    if r.returncode == 0:
        fail("redis", "negative case not caught: bad directive value")


def redis_pod(server, cli, containers):
    """Starts the pod's redis containers in one sandbox (pod name -0 as hostname, the headless
    Service's names for the other members), each with its mount paths mapped into a temp dir and
    `redis-server` resolved to the installed one; then PINGs each port."""
    d = containers[0][0]
    tmp = tempfile.mkdtemp(prefix="redis-")
    name = d["metadata"]["name"]
    hostname = f"{name}-0" if d["kind"] == "StatefulSet" else name
    hosts, env, lines = {}, {"PATH": os.environ["PATH"]}, []
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    for tool, real in (("redis-server", server), ("redis-cli", cli)):
        os.symlink(real, os.path.join(bindir, tool))
    env["PATH"] = bindir + ":" + env["PATH"]
    ports = []
    for i, (_, c) in enumerate(containers):
        cenv = env_of(c, {})
        for v in cenv.get("NODES", "").split():
            hosts.setdefault(v, f"127.0.0.{len(hosts) + 1}")
        env.update(cenv)
        argv = (c.get("command") or []) + (c.get("args") or [])
        mounts = [m["mountPath"] for m in c.get("volumeMounts") or []]
        text = json.dumps(argv)
        for m in mounts:
            os.makedirs(tmp + m, exist_ok=True)
            text = re.sub(rf'(?<![\w/]){re.escape(m)}(?=[/"\s\\]|$)', tmp + m, text)
        argv = json.loads(text)
        log = f"{tmp}/c{i}.log"
        lines.append(" ".join(shlex_quote(a) for a in argv) + f" >{log} 2>&1 &\npids=\"$pids $!\"")
        port = 26379 if "--sentinel" in " ".join(argv) else 6379
        ports.append((port, log))
    checks = "".join(
        f"i=0; until redis-cli -p {p} ping 2>/dev/null | grep -q PONG; do i=$((i+1)); "
        f"for p in $pids; do kill -0 $p 2>/dev/null || i=99; done; "
        f"if [ $i -ge 50 ]; then echo 'no PONG on {p}'; cat {log}; kill $pids 2>/dev/null; wait; exit 1; fi; sleep 0.2; done\n"
        for p, log in ports)
    script = "pids=\n" + "\n".join(lines) + "\n" + checks + "kill $pids 2>/dev/null; wait; exit 0\n"
    try:
        return in_pod(script, hosts, hostname, env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def shlex_quote(s):
    import shlex
    return shlex.quote(s)


# ---------------------------------------------------------------- Prometheus / Alertmanager

def check_prom(profiles):
    tools = {"prometheus": os.environ.get("PROMTOOL"), "alertmanager": os.environ.get("AMTOOL")}
    counts = {"prometheus": 0, "alertmanager": 0, "rules": 0}
    seen = set()
    example = {}
    for profile, docs in profiles.items():
        cms = config_maps(docs)
        for d in docs:
            spec = pod_spec(d)
            if not spec:
                continue
            for c in spec["containers"]:
                image = c.get("image", "")
                kind = "prometheus" if "/prometheus:" in image else "alertmanager" if "/alertmanager:" in image else None
                if not kind:
                    continue
                flag = next((a.split("=", 1)[1] for a in c.get("args") or [] if a.startswith("--config.file=")), None)
                root = tempfile.mkdtemp(prefix="prom-")
                try:
                    lay_out_mounts(root, c, spec, cms, d["metadata"]["namespace"])
                    path = root + flag
                    text = open(path).read()
                    if (kind, text) in seen:
                        continue
                    seen.add((kind, text))
                    example.setdefault(kind, text)
                    counts[kind] += 1
                    if not tools[kind]:
                        continue
                    counts["rules"] += len((yaml.safe_load(text) or {}).get("rule_files") or [])
                    r = prom_check(kind, tools[kind], root, flag)
                    if r.returncode != 0:
                        fail(kind, f"{profile} {d['metadata']['name']}: {r.stdout[-600:]}{r.stderr[-600:]}")
                finally:
                    shutil.rmtree(root, ignore_errors=True)
    for kind, tool in tools.items():
        name = "promtool check config" if kind == "prometheus" else "amtool check-config"
        if not tool:
            say(kind, f"skipped: {skipped(kind.upper())}")
            continue
        extra = f"; {counts['rules']} rule files (none rendered: no rules to check)" if kind == "prometheus" else ""
        say(kind, f"{name} ({tool_version(tool)}): {counts[kind]} distinct configs{extra}")
        if kind in example:
            root = tempfile.mkdtemp(prefix="prom-")
            try:
                with open(root + "/bad.yml", "w") as f:
                    bad = example[kind].replace("scrape_interval: 15s", "scrape_interval: 15 seconds") \
                        if kind == "prometheus" else example[kind].replace("receiver: default", "receiver: nobody")
                    f.write(bad)
                r = prom_check(kind, tool, root, "/bad.yml")
                say(kind, "broken copy refused" if r.returncode != 0 else "broken copy NOT refused")
                if r.returncode == 0:
                    fail(kind, "negative case not caught")
            finally:
                shutil.rmtree(root, ignore_errors=True)


def check_haproxy(profiles):
    tool = os.environ.get("HAPROXY")
    if not tool:
        say("haproxy", f"skipped: {skipped('HAPROXY')}")
        return
    seen, example = set(), None
    for profile, docs in profiles.items():
        cms = config_maps(docs)
        for d in docs:
            spec = pod_spec(d)
            for c in (spec or {}).get("containers", []):
                argv = (c.get("command") or []) + (c.get("args") or [])
                if not argv or argv[0] != "haproxy" or "-f" not in argv:
                    continue
                root = tempfile.mkdtemp(prefix="haproxy-")
                try:
                    lay_out_mounts(root, c, spec, cms, d["metadata"]["namespace"])
                    path = root + argv[argv.index("-f") + 1]
                    text = open(path).read()
                    if text in seen:
                        continue
                    seen.add(text)
                    example = example or text
                    r = haproxy_check(tool, text)
                    if r.returncode != 0:
                        fail("haproxy", f"{profile} {d['metadata']['name']}: {r.stdout[-600:]}{r.stderr[-600:]}")
                finally:
                    shutil.rmtree(root, ignore_errors=True)
    ver = subprocess.run([tool, "-v"], capture_output=True, text=True).stdout.split()[2]
    say("haproxy", f"haproxy -c ({ver}): {len(seen)} distinct configs")
    if example:
        r = haproxy_check(tool, example.replace("balance first", "balance firstt", 1))
        say("haproxy", "broken copy refused" if r.returncode != 0 else "broken copy NOT refused")
        if r.returncode == 0:
            fail("haproxy", "negative case not caught: unknown balance algorithm")


def haproxy_check(tool, text):
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as f:
        f.write(text)
    try:
        return subprocess.run([tool, "-c", "-q", "-f", f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)


def prom_check(kind, tool, root, path):
    argv = [tool, "check", "config", root + path] if kind == "prometheus" else [tool, "check-config", root + path]
    return subprocess.run(argv, capture_output=True, text=True, cwd=root)


def tool_version(tool):
    r = subprocess.run([tool, "--version"], capture_output=True, text=True)
    m = re.search(r"version (\S+)", r.stdout + r.stderr)
    return m.group(1) if m else "?"


def main():
    checks = sys.argv[1].split(",")
    profiles = load(sys.argv[2:])
    for name in checks:
        {"clickhouse": check_clickhouse, "postgres": check_postgres, "redis": check_redis,
         "prometheus": check_prom, "haproxy": check_haproxy}[name](profiles)
        for check, parts in pending.items():
            print(f"test-contracts: {check}: " + "; ".join(parts), flush=True)
        pending.clear()
    if failed:
        print("\n".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
