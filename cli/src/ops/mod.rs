//! The flows verbs share, over the cluster modules: applying a configuration (install,
//! rollback, scale, switch, upgrade-engine), a database's major-version move
//! (upgrade-engine), the check report (check, install) and the live nodes (plan),
//! backups (backup, restore, install), restores (restore) and which configuration a run
//! uses (install, diff, plan: the deployed one unless a file or profile is named). A command module parses its
//! flags, calls one of these and prints; no command calls another.

pub(crate) mod backups;
pub(crate) mod check;
pub(crate) mod configure;
pub(crate) mod engine_upgrade;
pub(crate) mod restore;
pub(crate) mod source;
