"""Runs inside a fresh process: opens chdb (embedded ClickHouse) on one config file and
prints, as JSON, what the engine made of it. chdb keeps engine state per process, so each
configuration gets its own interpreter. argv: config.xml, then the SQL statements to try."""
import json
import sys

import chdb

out = {"engine": None, "error": None, "rows": {}, "statements": {}}
try:
    conn = chdb.connect(":memory:?config-file=" + sys.argv[1])
except Exception as e:  # the config did not load: that is the finding
    out["error"] = str(e).strip().splitlines()[0][:400]
    print(json.dumps(out))
    sys.exit(0)
cur = conn.cursor()
queries = {
    "engine": "SELECT version()",
    "clusters": "SELECT cluster, host_name, port FROM system.clusters ORDER BY cluster",
    "macros": "SELECT macro, substitution FROM system.macros ORDER BY macro",
    "collections": "SELECT name FROM system.named_collections ORDER BY name",
    "functions": "SELECT name, load_status, loading_error_message FROM system.user_defined_functions ORDER BY name",
}
for key, q in queries.items():
    try:
        cur.execute(q)
        out["rows"][key] = [list(r) for r in cur.fetchall()]
    except Exception as e:
        out["rows"][key] = {"error": str(e).strip().splitlines()[0][:400]}
out["engine"] = (out["rows"].pop("engine") or [[None]])[0][0]
for stmt in sys.argv[2:]:
    try:
        cur.execute(stmt)
        out["statements"][stmt] = {"rows": [[str(v) for v in r] for r in cur.fetchall()]}
    except Exception as e:
        out["statements"][stmt] = {"error": str(e).strip().splitlines()[0][:400]}
conn.close()
print(json.dumps(out))
