//! Every program and path a container calls ships in the image it runs in: the rule that a
//! command runs the image's own scripts and binaries, never a path the pinned image lacks.
//! Our tests run where no container starts, so each pinned image's contents are written
//! down here with the upstream line that puts them there (`repository:path@commit Lnn`), and
//! every rendered command, argument and exec probe of every profile is read against them:
//! the program of each simple command of an `sh -c` script, the script an interpreter runs,
//! and every absolute path, which must be shipped, mounted or the kernel's. An image bump
//! leaves its new reference without a row, and the test asks for the evidence again.
//!
//! Where the stored upstream file is not the pinned tag's, the row says which version it is.

use serde_json::Value;
use voice_core::render::{self, Object};
use voice_core::{Input, ProfileName};

/// What one pinned image ships.
struct Image {
    /// The reference as rendered (default registry).
    image: &'static str,
    /// Its working directory, against which relative paths resolve.
    workdir: &'static str,
    /// Programs found on its PATH (bare names) and paths it holds (a trailing `/`: the tree
    /// under it), each with the line that puts it there.
    ships: &'static [(&'static str, &'static str)],
}

// Busybox applets of an Alpine base: alpinelinux/aports scripts/mkimg.minirootfs.sh@0877ba56
// L24 `rootfs_apks="busybox alpine-baselayout alpine-keys apk-tools libc-utils"`.
const BUSYBOX: &str =
    "alpine minirootfs: busybox (aports scripts/mkimg.minirootfs.sh@0877ba56 L24)";
const APP_BIN: &str = "PostHog/posthog Dockerfile@8cbbcfdc L334 `COPY --chown=posthog:posthog ./bin ./bin/` (nearest stored version to 86d6812c; the Feb 2026 layout, stored without a commit, has it at L240)";

const IMAGES: &[Image] = &[
    Image {
        image: "ghcr.io/posthog/posthog:86d6812c7de75c6c869b935e17baf45bf295bfd5",
        workdir: "/code",
        ships: &[
            (
                "sh",
                "PostHog/posthog Dockerfile@8cbbcfdc L199 `FROM unit:1.33.0-python3.12` (Debian bookworm)",
            ),
            (
                "python",
                "PostHog/posthog Dockerfile@8cbbcfdc L309-311 `COPY … /python-runtime`, `ENV PATH=/python-runtime/bin:$PATH`",
            ),
            (
                "celery",
                "python-runtime: celery is a runtime dependency (pyproject.toml); bin/docker-worker-celery@07510273 calls it",
            ),
            (
                "cp",
                "Debian bookworm coreutils (unit:1.33.0-python3.12 is FROM python:3.12-bookworm: nginx/unit pkg/docker/Dockerfile.python3.12@24ed91f4 L1)",
            ),
            ("test", "Debian bookworm coreutils (as cp)"),
            (
                "hostname",
                "Debian bookworm's `hostname` package is Essential (dpkg -s hostname: `Essential: yes`)",
            ),
            ("/code/bin/migrate", APP_BIN),
            ("/code/bin/migrate-check", APP_BIN),
            ("/code/bin/docker-server", APP_BIN),
            ("/code/bin/docker-worker-celery", APP_BIN),
            ("/code/bin/docker-worker-beat", APP_BIN),
            (
                "/code/manage.py",
                "PostHog/posthog Dockerfile@8cbbcfdc L335 `COPY --chown=posthog:posthog manage.py manage.py`",
            ),
            (
                "/code/posthog/user_scripts/",
                "PostHog/posthog Dockerfile@8cbbcfdc L336 `COPY --chown=posthog:posthog posthog posthog/`",
            ),
        ],
    },
    Image {
        image: "ghcr.io/posthog/posthog-node@sha256:fd156e690ca1bb7cc1abd370e513ac532c57726ee11029721623f0db5b90b72a",
        workdir: "/code",
        ships: &[
            (
                "node",
                "PostHog/posthog Dockerfile.node@f4406a3a L75 `FROM node:22.22.0-bookworm-slim`",
            ),
            (
                "/code/nodejs/dist/",
                "PostHog/posthog Dockerfile.node@f4406a3a L123 `COPY --from=nodejs-build --chown=posthog:posthog /code/nodejs/dist /code/nodejs/dist`; L138 `CMD [\"node\", \"nodejs/dist/index.js\"]`",
            ),
        ],
    },
    Image {
        image: "ghcr.io/posthog/posthog/feature-flags@sha256:1e79e6e7e5b58da18e27ebdf0ef9b41d6c04136eac42bb9490e73a9a62f94f65",
        workdir: "/app",
        ships: &[
            (
                "sh",
                "PostHog/posthog rust/Dockerfile@1031e7d9 L43 `FROM debian:bookworm-slim AS runtime`; L66 `ENTRYPOINT [\"/bin/sh\", \"-c\", …]`",
            ),
            ("cp", "debian:bookworm-slim coreutils (as sh)"),
            (
                "/app/share/GeoLite2-City.mmdb",
                "PostHog/posthog rust/Dockerfile@1031e7d9 L55-56 `mkdir -p /app/share && mv ./share/GeoLite2-City.mmdb /app/share/`",
            ),
        ],
    },
    Image {
        image: "clickhouse/clickhouse-server:25.6.13.41",
        workdir: "/",
        ships: &[
            (
                "sh",
                "ClickHouse/ClickHouse docker/server/Dockerfile.ubuntu@001409ce L1 `FROM ubuntu:22.04` (stored version 25.4.4.25)",
            ),
            ("sleep", "ubuntu:22.04 coreutils (as sh)"),
            (
                "clickhouse",
                "ClickHouse/ClickHouse docker/server/Dockerfile.ubuntu@001409ce L32 `ARG PACKAGES=\"clickhouse-client clickhouse-server clickhouse-common-static\"`, L111 installs them (stored version 25.4.4.25)",
            ),
        ],
    },
    Image {
        image: "confluentinc/cp-kafka:7.5.0",
        workdir: "/",
        ships: &[
            (
                "sh",
                "confluentinc/common-docker base/Dockerfile.ubi8@3a653f27 (UBI 8 minimal with bash)",
            ),
            (
                "/etc/confluent/docker/run",
                "confluentinc/kafka-images kafka/Dockerfile.ubi8@25d6c12c L83 `COPY --chown=appuser:appuser include/etc/confluent/docker /etc/confluent/docker`; L87 `CMD [\"/etc/confluent/docker/run\"]`",
            ),
        ],
    },
    Image {
        image: "docker.redpanda.com/redpandadata/redpanda:v25.1.9",
        workdir: "/",
        ships: &[
            (
                "rpk",
                "redpanda-data/helm-charts charts/redpanda/templates/_statefulset.go.tpl@d6fdc91e L385 runs `rpk redpanda start` in this image; redpanda src/v/config/configuration.cc@1c6cff34 L3579 default rpk_path `/usr/bin/rpk` (the image's Dockerfile is not public)",
            ),
            (
                "sh",
                "redpanda-data/helm-charts charts/redpanda/templates/_statefulset.go.tpl@d6fdc91e L203, L345 run `/bin/sh -c` in this image",
            ),
            (
                "grep",
                "the same chart's startup probe pipes into `grep ready` in this image (L385)",
            ),
        ],
    },
    Image {
        image: "haproxy:2.9.7-alpine",
        workdir: "/var/lib/haproxy",
        ships: &[(
            "haproxy",
            "docker-library/haproxy 2.9/alpine/Dockerfile@92d0a2f5 L71 `make -C /usr/src/haproxy install-bin` (into /usr/local/sbin)",
        )],
    },
    Image {
        image: "milvusdb/milvus:v2.3.3",
        workdir: "/milvus",
        ships: &[(
            "milvus",
            "milvus-io/milvus build/docker/milvus/ubuntu20.04/Dockerfile@019970b1 L15 `COPY ./bin/ /milvus/bin/`, L21 `ENV PATH=/milvus/bin:$PATH` (stored version older than v2.3.3)",
        )],
    },
    Image {
        image: "minio/mc:RELEASE.2025-04-16T18-13-26Z",
        workdir: "/",
        ships: &[
            (
                "mc",
                "minio/mc Dockerfile.release@b00526b1 L20 `ADD https://dl.minio.io/client/mc/release/linux-${TARGETARCH}/archive/mc.${RELEASE} /usr/bin/mc`",
            ),
            (
                "sh",
                "minio/mc Dockerfile.release@b00526b1 L5 `FROM registry.access.redhat.com/ubi9/ubi-micro:latest` (minio/minio's `#!/bin/sh` entrypoint runs on the same base)",
            ),
            ("sleep", "ubi-micro coreutils-single (as sh)"),
        ],
    },
    Image {
        image: "nacos/nacos-server:v2.2.3",
        workdir: "/home/nacos",
        ships: &[
            (
                "sh",
                "nacos-group/nacos-docker build/Dockerfile@d1540868 L1 `FROM centos:7.9.2009`",
            ),
            ("cp", "centos:7.9.2009 coreutils (as sh)"),
            (
                "/home/nacos/conf/",
                "nacos-group/nacos-docker build/Dockerfile@d1540868 L32 unpacks nacos-server into /home (conf/ included), L42 `ADD conf/application.properties conf/application.properties`",
            ),
        ],
    },
    Image {
        image: "nacos/nacos-mysql:8.0.16",
        workdir: "/",
        ships: &[
            (
                "sh",
                "built FROM mysql:8.0.x (nacos-group/nacos-docker example/image/mysql/8/Dockerfile@d1540868 L1; no Dockerfile of this tag exists)",
            ),
            (
                "mysqladmin",
                "docker-library/mysql 8.0/Dockerfile@130bd8e4 L61 installs mysql-community-client (8.0.16)",
            ),
        ],
    },
    Image {
        image: "postgres:15.12-alpine",
        workdir: "/",
        ships: &[
            ("sh", BUSYBOX),
            ("grep", BUSYBOX),
            ("sleep", BUSYBOX),
            (
                "pg_isready",
                "docker-library/postgres 15/alpine3.21/Dockerfile@807e2180 L141 `--prefix=/usr/local`, L159 `make install-world-bin`",
            ),
            (
                "psql",
                "docker-library/postgres 15/alpine3.21/Dockerfile@807e2180 L159 `make install-world-bin`",
            ),
        ],
    },
    Image {
        image: "postgres:16.11-alpine",
        workdir: "/",
        ships: &[
            ("sh", BUSYBOX),
            ("grep", BUSYBOX),
            ("sleep", BUSYBOX),
            (
                "pg_isready",
                "docker-library/postgres 16/alpine3.22/Dockerfile@3506774b L56 `ENV PG_VERSION 16.11` (FROM alpine:3.22, L7), L137 `--prefix=/usr/local`, L155 `make install-world-bin`",
            ),
            (
                "psql",
                "docker-library/postgres 16/alpine3.22/Dockerfile@3506774b L155 `make install-world-bin`",
            ),
        ],
    },
    Image {
        image: "postgres:17.6-alpine",
        workdir: "/",
        ships: &[
            ("sh", BUSYBOX),
            ("grep", BUSYBOX),
            ("sleep", BUSYBOX),
            (
                "pg_isready",
                "docker-library/postgres 17/alpine3.22/Dockerfile@a3b3bfab L55 `ENV PG_VERSION 17.6` (FROM alpine:3.22, L7), L135 `--prefix=/usr/local`, L153 `make install-world-bin`",
            ),
            (
                "psql",
                "docker-library/postgres 17/alpine3.22/Dockerfile@a3b3bfab L153 `make install-world-bin`",
            ),
        ],
    },
    Image {
        image: "quay.io/coreos/etcd:v3.5.10",
        workdir: "/",
        ships: &[
            (
                "etcd",
                "etcd-io/etcd Dockerfile-release.amd64@0223ca52 L3 `ADD etcd /usr/local/bin/`",
            ),
            (
                "etcdctl",
                "etcd-io/etcd Dockerfile-release.amd64@0223ca52 L4 `ADD etcdctl /usr/local/bin/` (distroless: no shell)",
            ),
        ],
    },
    Image {
        image: "redis:7.2.7-alpine",
        workdir: "/data",
        ships: &[
            (
                "redis-server",
                "docker-library/redis 7.2/alpine/Dockerfile@5f08363e L106 `make -C /usr/src/redis install` (stored version 7.2.5)",
            ),
            (
                "redis-cli",
                "docker-library/redis 7.2/alpine/Dockerfile@5f08363e L106, L130 `redis-cli --version` (stored version 7.2.5)",
            ),
            ("sh", BUSYBOX),
            ("cat", BUSYBOX),
            ("date", BUSYBOX),
            ("head", BUSYBOX),
            ("hostname", BUSYBOX),
            ("sleep", BUSYBOX),
            ("timeout", BUSYBOX),
            (
                "getent",
                "alpine minirootfs: libc-utils pulls musl-utils (aports main/musl/APKBUILD@014f7538 L118-122 installs getent)",
            ),
        ],
    },
    Image {
        image: "zookeeper:3.9.3",
        workdir: "/apache-zookeeper-3.9.3-bin",
        ships: &[
            (
                "sh",
                "31z4/zookeeper-docker 3.9.3/Dockerfile@268d33ca L1 `FROM eclipse-temurin:17-jre-jammy`",
            ),
            ("grep", "Ubuntu jammy base (as sh)"),
            (
                "nc",
                "31z4/zookeeper-docker 3.9.3/Dockerfile@268d33ca L32 `netcat \\` in apt-get install",
            ),
        ],
    },
];

/// Shell words that are not programs looked up in the image.
const BUILTINS: &[&str] = &[
    "if", "then", "else", "elif", "fi", "for", "in", "do", "done", "while", "until", "case",
    "esac", "echo", "exit", "set", "export", "test", "[", "true", "false", "cd", "trap", "wait",
    "kill", "read", "return", "shift", "unset", "printf", ":", "local", "break", "continue", "{",
    "}", "!", "exec",
];

/// Programs whose first non-option argument is a script they run.
const INTERPRETERS: &[&str] = &["sh", "bash", "python", "python3", "node", ".", "source"];

/// Splits a shell script into its simple commands' words, quote-aware: single quotes hide
/// everything, `$(…)` is a command of its own (inside double quotes too) and leaves `$()` in
/// the word around it, `$((…))` is arithmetic, comments are skipped, and a here-document's
/// body is data (only its `$(…)` run).
fn commands(script: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    // The command being read, and the enclosing ones with their quote state and the word
    // they were in when a `$(` opened.
    let mut cur = 0usize;
    let mut outer: Vec<(usize, bool, String)> = Vec::new();
    let mut word = String::new();
    let (mut single, mut double) = (false, false);
    let mut heredoc: Option<String> = None;
    let mut chars = script.chars().peekable();
    fn next_command(out: &mut Vec<Vec<String>>, cur: &mut usize, word: &mut String) {
        if !word.is_empty() {
            out[*cur].push(std::mem::take(word));
        }
        out.push(Vec::new());
        *cur = out.len() - 1;
    }
    while let Some(ch) = chars.next() {
        match ch {
            '\'' if !double => single = !single,
            _ if single => word.push(ch),
            '"' => double = !double,
            '$' if chars.peek() == Some(&'(') => {
                chars.next();
                if chars.peek() == Some(&'(') {
                    // Arithmetic: no command inside.
                    let mut depth = 1;
                    for c in chars.by_ref() {
                        depth += i32::from(c == '(') - i32::from(c == ')');
                        if depth == -1 {
                            break;
                        }
                    }
                    word.push_str("$(())");
                    continue;
                }
                outer.push((cur, double, std::mem::take(&mut word)));
                double = false;
                out.push(Vec::new());
                cur = out.len() - 1;
            }
            ')' if !double && !outer.is_empty() => {
                if !word.is_empty() {
                    out[cur].push(std::mem::take(&mut word));
                }
                let (c, d, w) = outer.pop().unwrap_or_default();
                cur = c;
                double = d;
                word = w + "$()";
            }
            _ if double => word.push(ch),
            '#' if word.is_empty() => while chars.next_if(|c| *c != '\n').is_some() {},
            '&' if word.ends_with('>') || word.ends_with('<') => word.push(ch),
            '\n' | ';' | '|' | '&' | '(' | ')' | '`' => {
                if let Some(d) = word.strip_prefix("<<") {
                    heredoc = Some(d.trim_start_matches('-').trim_matches(['\'', '"']).into());
                    word.clear();
                }
                next_command(&mut out, &mut cur, &mut word);
                if ch == '\n'
                    && let Some(end) = heredoc.take()
                {
                    // The body up to its delimiter line: only command substitutions run.
                    loop {
                        let line: String =
                            std::iter::from_fn(|| chars.next_if(|c| *c != '\n')).collect();
                        let more = chars.next().is_some();
                        if line.trim() == end || !more {
                            break;
                        }
                        let mut rest = line.as_str();
                        while let Some(i) = rest.find("$(") {
                            let inner = &rest[i + 2..];
                            let j = inner.find(')').unwrap_or(inner.len());
                            out.extend(commands(&inner[..j]));
                            rest = &inner[j..];
                        }
                    }
                    out.push(Vec::new());
                    cur = out.len() - 1;
                }
            }
            ' ' | '\t' => {
                if word == "<<" || word == "<<-" {
                    while chars.next_if(|c| *c == ' ').is_some() {}
                    continue;
                }
                if let Some(d) = word.strip_prefix("<<") {
                    heredoc = Some(d.trim_start_matches('-').trim_matches(['\'', '"']).into());
                    word.clear();
                } else if !word.is_empty() {
                    out[cur].push(std::mem::take(&mut word));
                }
            }
            _ => word.push(ch),
        }
    }
    if !word.is_empty() {
        out[cur].push(word);
    }
    out.retain(|c| !c.is_empty());
    out
}

/// What a container's argv calls: (program, script it runs, absolute paths it names).
fn calls(argv: &[String]) -> Vec<Vec<String>> {
    match argv {
        [sh, c, script, ..] if (sh == "sh" || sh == "/bin/sh" || sh == "bash") && c == "-c" => {
            let mut v = vec![vec![sh.clone()]];
            v.extend(commands(script));
            v
        }
        [] => Vec::new(),
        _ => vec![argv.to_vec()],
    }
}

fn arr<'a>(v: &'a Value, p: &str) -> &'a [Value] {
    v.pointer(p)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn strings(v: &Value, p: &str) -> Vec<String> {
    arr(v, p)
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// A word as a path: redirections and `--flag=` prefixes stripped; `None` for words that are
/// not paths or hold a variable.
fn path_in(word: &str) -> Option<&str> {
    let w = word.trim_start_matches(|c: char| c.is_ascii_digit() || c == '>' || c == '<');
    let w = w
        .split_once('=')
        .map_or(w, |(k, v)| if k.starts_with('-') { v } else { w });
    (w.starts_with('/') && !w.contains('$') && !w.contains('*')).then_some(w)
}

/// Whether `image` ships `what` (a bare program name or an absolute path).
fn shipped(image: &Image, what: &str) -> bool {
    let what = what.trim_end_matches("/.").trim_end_matches('/');
    image.ships.iter().any(|(p, _)| {
        let p_trim = p.trim_end_matches('/');
        *p == what || p_trim == what || (p.ends_with('/') && what.starts_with(*p))
    })
}

fn resolve(image: &Image, path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!(
            "{}/{}",
            image.workdir.trim_end_matches('/'),
            path.trim_start_matches("./")
        )
    }
}

/// Every call of every container of `objects` against [`IMAGES`].
fn check_paths(objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    for w in objects
        .iter()
        .filter(|o| matches!(o.kind.as_str(), "Deployment" | "StatefulSet" | "Job"))
    {
        let v = w.value();
        let pod = &v["spec"]["template"]["spec"];
        for c in arr(pod, "/containers")
            .iter()
            .chain(arr(pod, "/initContainers"))
        {
            let id = format!("{}/{}", w.name, c["name"].as_str().unwrap_or_default());
            let mut argvs = vec![[strings(c, "/command"), strings(c, "/args")].concat()];
            // Args alone go to the image's own entrypoint: nothing of ours is called.
            if strings(c, "/command").is_empty() {
                argvs.clear();
            }
            for p in ["livenessProbe", "readinessProbe", "startupProbe"] {
                argvs.push(strings(c, &format!("/{p}/exec/command")));
            }
            let calls: Vec<Vec<String>> = argvs.iter().flat_map(|a| calls(a)).collect();
            if calls.is_empty() {
                continue;
            }
            let image_ref = c["image"].as_str().unwrap_or_default();
            let Some(image) = IMAGES.iter().find(|i| i.image == image_ref) else {
                out.push(format!(
                    "{id}: calls programs in {image_ref}, of which nothing is known: add what it ships, with the Dockerfile lines"
                ));
                continue;
            };
            let mounts: Vec<String> = arr(c, "/volumeMounts")
                .iter()
                .filter_map(|m| m["mountPath"].as_str().map(str::to_string))
                .collect();
            for words in calls {
                let mut words = words.iter().map(String::as_str).skip_while(|w| {
                    (w.contains('=') && !w.starts_with('-') && !w.starts_with('/'))
                        || matches!(
                            *w,
                            "if" | "then"
                                | "else"
                                | "elif"
                                | "do"
                                | "while"
                                | "until"
                                | "!"
                                | "{"
                                | "exec"
                        )
                });
                let Some(program) = words.next() else {
                    continue;
                };
                let rest: Vec<&str> = words.collect();
                let name = program.rsplit('/').next().unwrap_or(program);
                // A program named by a variable or a `case` pattern cannot be looked up.
                let checkable = !program.contains(['$', '*']);
                if checkable && !BUILTINS.contains(&program) {
                    let what = if program.contains('/') {
                        resolve(image, program)
                    } else {
                        program.to_string()
                    };
                    if !shipped(image, &what) {
                        out.push(format!(
                            "{id}: calls `{program}`, which {image_ref} does not ship"
                        ));
                    }
                }
                if INTERPRETERS.contains(&name)
                    && let Some(script) = rest.iter().find(|w| !w.starts_with('-'))
                    && !script.contains('$')
                {
                    let path = resolve(image, script);
                    if !shipped(image, &path) {
                        out.push(format!("{id}: `{program}` runs {script}, which {image_ref} does not ship ({path})"));
                    }
                }
                for p in std::iter::once(program).chain(rest).filter_map(path_in) {
                    let mounted = mounts
                        .iter()
                        .any(|m| p == m || p.starts_with(&format!("{}/", m.trim_end_matches('/'))));
                    let kernel = p.starts_with("/dev/") || p.starts_with("/proc/");
                    if !(mounted || kernel || shipped(image, p)) {
                        out.push(format!(
                            "{id}: names {p}, which is neither mounted nor shipped by {image_ref}"
                        ));
                    }
                }
            }
        }
    }
    out
}

fn render(profile: ProfileName, sets: &[&str]) -> Vec<Object> {
    let sets: Vec<String> = sets.iter().map(|s| (*s).to_string()).collect();
    let stack = voice_core::load(&Input {
        profile: Some(profile),
        sets: &sets,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{profile:?}: {e}"));
    render::render(&stack)
}

/// Every profile as installed, and in the middle of `upgrade-engine postgres --to <major>`
/// for each major the catalog pins (both StatefulSets rendered).
fn renders() -> Vec<(String, Vec<Object>)> {
    let mut out = Vec::new();
    for p in voice_core::config::PROFILES {
        out.push((format!("{p:?}"), render(p, &[])));
        for (major, image) in voice_core::catalog::engines::POSTGRES_MAJORS {
            let sets = [
                format!("components.postgres.image={image}"),
                format!(
                    "components.postgres.engineUpgrade={{statefulSet: postgres-{major}, previous: {{statefulSet: postgres, image: \"{}\"}}, serving: previous}}",
                    voice_core::catalog::engines::POSTGRES_IMAGE
                ),
            ];
            let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
            out.push((format!("{p:?}, postgres {major}"), render(p, &sets)));
        }
    }
    out
}

#[test]
fn every_call_is_shipped_by_its_image() {
    for (name, objects) in renders() {
        let v = check_paths(&objects);
        assert!(v.is_empty(), "{name}:\n  {}", v.join("\n  "));
    }
}

#[test]
fn every_image_row_is_used() {
    let mut used = std::collections::BTreeSet::new();
    for (_, objects) in renders() {
        for o in objects {
            let v = o.value();
            let pod = &v["spec"]["template"]["spec"];
            for c in arr(pod, "/containers")
                .iter()
                .chain(arr(pod, "/initContainers"))
            {
                used.insert(c["image"].as_str().unwrap_or_default().to_string());
            }
        }
    }
    for i in IMAGES {
        assert!(used.contains(i.image), "{} is rendered nowhere", i.image);
    }
}

#[test]
fn splits_scripts_into_commands() {
    let c = commands(
        "set -eu\nuntil pg_isready -q; do sleep 2; done\necho \"$(date -u +%s)\" | grep -qE 'OK|GONE' >/dev/null\n",
    );
    let firsts: Vec<&str> = c.iter().map(|w| w[0].as_str()).collect();
    assert_eq!(
        firsts,
        ["set", "until", "do", "done", "echo", "date", "grep"]
    );
    assert_eq!(c[6], ["grep", "-qE", "OK|GONE", ">/dev/null"]);
}

// --- The rule broken on purpose ----------------------------------------------------------

fn set_command(objects: &mut [Object], workload: &str, container: &str, argv: &[&str]) {
    let o = objects
        .iter_mut()
        .find(|o| {
            matches!(o.kind.as_str(), "Deployment" | "StatefulSet" | "Job")
                && o.name.starts_with(workload)
        })
        .expect("workload");
    let v = o.value_mut();
    for list in ["containers", "initContainers"] {
        if let Some(cs) = v["spec"]["template"]["spec"][list].as_array_mut() {
            for c in cs.iter_mut().filter(|c| c["name"] == container) {
                c["command"] = serde_json::json!(argv);
            }
        }
    }
}

#[test]
fn catches_the_copied_migration_step_the_app_image_lacks() {
    // The migrations Job as it was before it ran the image's own script: a step copied from an
    // old bin/migrate, calling a path the app image does not ship.
    let mut o = render(ProfileName::Production, &[]);
    set_command(
        &mut o,
        "posthog-migrate",
        "migrate",
        &[
            "sh",
            "-c",
            "set -e\nDATABASE_URL=\"$CYCLOTRON_DATABASE_URL\" sh rust/bin/migrate-cyclotron\npython manage.py migrate --noinput\n",
        ],
    );
    let v = check_paths(&o);
    assert!(
        v.iter()
            .any(|x| x.contains("runs rust/bin/migrate-cyclotron")
                && x.contains("/code/rust/bin/migrate-cyclotron")),
        "{v:?}"
    );
    assert_eq!(v.len(), 1, "the rest is shipped: {v:?}");
}

#[test]
fn catches_programs_and_paths_an_image_lacks() {
    let mut o = render(ProfileName::Production, &[]);
    set_command(
        &mut o,
        "posthog-web",
        "web",
        &["./bin/docker-server-unicorn"],
    );
    set_command(
        &mut o,
        "posthog-plugins",
        "heartbeat",
        &[
            "sh",
            "-c",
            "curl -s http://x/ && cat /etc/voice/missing.conf",
        ],
    );
    set_command(
        &mut o,
        "posthog-zookeeper",
        "zookeeper",
        &["sh", "-c", "exec /opt/zk/bin/start.sh"],
    );
    let v = check_paths(&o);
    for needle in [
        "calls `./bin/docker-server-unicorn`",
        "calls `curl`",
        "names /etc/voice/missing.conf",
        "calls `/opt/zk/bin/start.sh`",
    ] {
        assert!(v.iter().any(|x| x.contains(needle)), "{needle}: {v:?}");
    }
}

#[test]
fn catches_an_image_nothing_is_known_of() {
    let mut o = render(ProfileName::Dev, &[]);
    for x in o.iter_mut().filter(|x| x.name == "posthog-redis") {
        let v = x.value_mut();
        if let Some(cs) = v["spec"]["template"]["spec"]["containers"].as_array_mut() {
            cs[0]["image"] = Value::from("redis:7.4.0-alpine");
        }
    }
    let v = check_paths(&o);
    assert!(
        v.iter()
            .any(|x| x.contains("redis:7.4.0-alpine, of which nothing is known")),
        "{v:?}"
    );
}
