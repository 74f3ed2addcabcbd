//! `kubectl voice render`: the manifests as deterministic multi-document YAML on stdout,
//! streamed object by object, or one file per component with a kustomization (`--out`).
//! `--cluster-scoped` and `--namespace-policies` print what a cluster admin applies for an
//! operator with rights in the selection's namespaces alone, exactly as install writes it.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::args::{ClusterArgs, ConfigArgs};
use crate::cluster::{apply, inventory};
use crate::config;
use crate::error::exit;

/// The flags of `kubectl voice render`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Configuration.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Write one file per component and a kustomization.yaml into DIR instead of stdout.
    #[arg(long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Only the objects without a namespace (Namespaces, PriorityClasses, ClusterRoles and
    /// their bindings) of this selection, as install writes them (with the rollout's
    /// inventory label): what a cluster admin applies for an operator with rights in the
    /// selection's namespaces alone.
    #[arg(long, conflicts_with = "out")]
    pub cluster_scoped: bool,
    /// Only each namespace's ResourceQuota and LimitRange (with --cluster-scoped: those too),
    /// as install writes them: Kubernetes' `admin` role may read them but not write them.
    #[arg(long, conflicts_with = "out")]
    pub namespace_policies: bool,
}

/// Runs the command.
pub(crate) fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let Args {
        config,
        out,
        cluster_scoped,
        namespace_policies,
    } = args;
    let stack = config::load(&config)?;
    if cluster_scoped || namespace_policies {
        // As install applies them: the selection with the inventory's namespace, each object
        // labelled as a member of the rollout's ApplySet (`-n` names where that lives).
        let inv = inventory::Inventory::of(&stack, ca.namespace.as_deref());
        let (objects, _) = apply::planned(&stack, &inv);
        let mut doc = String::new();
        for o in voice_core::render::selection::for_cluster_admin(
            objects,
            cluster_scoped,
            namespace_policies,
        ) {
            doc.push_str("---\n");
            voice_core::render::yaml::write(&mut doc, &inventory::label(&inv, &o));
        }
        std::io::stdout().write_all(doc.as_bytes())?;
        return Ok(exit::OK);
    }
    match out {
        None => render_stream(&stack)?,
        Some(dir) => {
            let objects = voice_core::render::selected(&stack);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let files = voice_core::render::to_files(&objects);
            // Files an earlier render listed that this one does not write would be
            // read by `kubectl apply -k` as if still planned: remove them.
            let listed =
                std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap_or_default();
            for old in listed.lines().filter_map(|l| l.trim().strip_prefix("- ")) {
                let stale = !old.contains('/')
                    && old.ends_with(".yaml")
                    && !files.iter().any(|(n, _)| n == old);
                if stale {
                    std::fs::remove_file(dir.join(old))
                        .or_else(|e| match e.kind() {
                            std::io::ErrorKind::NotFound => Ok(()),
                            _ => Err(e),
                        })
                        .with_context(|| {
                            format!("removing the stale {old} from {}", dir.display())
                        })?;
                }
            }
            for (name, text) in &files {
                let path = dir.join(name);
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            eprintln!(
                "wrote {} files ({} objects) to {}",
                files.len(),
                objects.len(),
                dir.display()
            );
        }
    }
    Ok(exit::OK)
}

/// Writes the manifests to stdout as they are rendered, dropping each object once written,
/// so memory holds one object at a time instead of the whole stream.
fn render_stream(stack: &voice_core::Stack) -> anyhow::Result<()> {
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut doc = String::with_capacity(16 << 10);
    let mut result = Ok(());
    let mut write = |o: voice_core::render::Object| {
        if result.is_ok() {
            doc.clear();
            doc.push_str("---\n");
            o.write_yaml(&mut doc);
            result = stdout.write_all(doc.as_bytes());
        }
    };
    if stack.selection.is_everything() {
        voice_core::render::render_each(stack, write);
    } else {
        voice_core::render::selected(stack)
            .into_iter()
            .for_each(&mut write);
    }
    result?;
    stdout.flush()?;
    Ok(())
}
