//! Bounds on untrusted input: `voice.yaml`, each `--set` value and the secrets file are read
//! within them, by the CLI and by the previewer alike (both call the crate's `load`).
//!
//! A YAML text can describe far more than it spells: nine levels of `&a [*a, *a, …]` are 500
//! bytes and a billion values. The reader counts what aliases expand to before it copies
//! anything, stops at the first limit hit, and reports it as a [`super::Diagnostic`] naming the
//! limit, with the field path and line where it was hit. Every limit is far above what a real
//! configuration needs: the production profile is 1.6 KB, about 150 values, 6 levels deep, and
//! a file overriding every component of the catalog stays in the tens of kilobytes.
//!
//! The same numbers bound the work after reading: every later step (schema walk, layering,
//! resolve, catalog) is linear in the nodes read, so a file within the limits is checked in
//! milliseconds, and at most [`Limits::diagnostics`] problems are listed.

/// The input limits; [`LIMITS`] is the one set in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one text (the file, one `--set` value). 1 MiB: some 600 times the production
    /// profile, small enough to read and check in well under a second.
    pub bytes: usize,
    /// Values (scalars, lists and mappings) of the document as expanded by its aliases: an
    /// alias counts every value it repeats, so a billion-laughs is refused after 20,000 values,
    /// before anything is copied. About 100 times a configuration that overrides everything.
    pub nodes: usize,
    /// Bytes of keys and strings of the expanded document: an alias of a long string counts
    /// its length again. Twice [`Limits::bytes`], so only aliases can reach it.
    pub expanded_bytes: usize,
    /// Nesting of lists and mappings (the top-level mapping is 1; aliases count the levels
    /// they bring). `components.<name>.resources.requests` is 4; 32 leaves room and keeps every
    /// recursive walk of the value shallow.
    pub depth: usize,
    /// Mapping keys of the expanded document. 10,000: two orders of magnitude above a file
    /// that overrides every component.
    pub keys: usize,
    /// Bytes of one mapping key (and of one `--set` path segment). Keys are field names and
    /// component or service names, DNS labels of at most 63 bytes.
    pub key_bytes: usize,
    /// Bytes of one string value. 64 KiB holds any image reference, URL, domain or PEM
    /// certificate.
    pub string_bytes: usize,
    /// Problems listed for one input; past it, one more says how many were left out.
    pub diagnostics: usize,
    /// Pods of the whole stack with every autoscaler at its maximum (the fit places each
    /// one). The production profile peaks at about 100; 10,000 is a very large platform.
    pub pods: u64,
    /// Nodes of `cluster.nodes`, all shapes together: 5,000 is the largest cluster
    /// Kubernetes supports.
    pub cluster_nodes: u64,
}

/// The limits of every input the core reads.
pub const LIMITS: Limits = Limits {
    bytes: 1024 * 1024,
    nodes: 20_000,
    expanded_bytes: 2 * 1024 * 1024,
    depth: 32,
    keys: 10_000,
    key_bytes: 128,
    string_bytes: 64 * 1024,
    diagnostics: 100,
    pods: 10_000,
    cluster_nodes: 5_000,
};

/// Which limit an input hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`Limits::bytes`].
    Bytes,
    /// [`Limits::nodes`].
    Nodes,
    /// [`Limits::expanded_bytes`].
    ExpandedBytes,
    /// [`Limits::depth`].
    Depth,
    /// [`Limits::keys`].
    Keys,
    /// [`Limits::key_bytes`].
    KeyBytes,
    /// [`Limits::string_bytes`].
    StringBytes,
}

impl Limit {
    /// The limit's name as messages print it.
    pub fn name(self) -> &'static str {
        match self {
            Limit::Bytes => "input size",
            Limit::Nodes => "value count",
            Limit::ExpandedBytes => "expanded size",
            Limit::Depth => "nesting depth",
            Limit::Keys => "key count",
            Limit::KeyBytes => "key length",
            Limit::StringBytes => "string length",
        }
    }
    /// Its value in `limits`.
    pub fn of(self, limits: &Limits) -> usize {
        match self {
            Limit::Bytes => limits.bytes,
            Limit::Nodes => limits.nodes,
            Limit::ExpandedBytes => limits.expanded_bytes,
            Limit::Depth => limits.depth,
            Limit::Keys => limits.keys,
            Limit::KeyBytes => limits.key_bytes,
            Limit::StringBytes => limits.string_bytes,
        }
    }
}
