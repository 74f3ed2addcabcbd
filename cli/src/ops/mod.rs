//! The flows verbs share, over the cluster modules: applying a configuration (install,
//! rollback, scale, switch), the check report (check, install) and the live nodes (plan),
//! backups (backup, restore, install) and restores (restore). A command module parses its
//! flags, calls one of these and prints; no command calls another.

pub mod backups;
pub mod check;
pub mod configure;
pub mod restore;
