//! One module per verb, as cargo's `commands/*.rs`: each holds its flags (`Args`) and its
//! `run`, which parses, calls the shared flows (`crate::ops`) and cluster modules
//! (`crate::cluster`), and prints. No command calls another. Offline verbs run without a
//! runtime; cluster verbs run on tokio.

pub(crate) mod backup;
pub(crate) mod check;
pub(crate) mod completion;
pub(crate) mod dashboard;
pub(crate) mod diff;
pub(crate) mod history;
pub(crate) mod install;
pub(crate) mod logs;
pub(crate) mod plan;
pub(crate) mod profile;
pub(crate) mod render;
pub(crate) mod restart;
pub(crate) mod restore;
pub(crate) mod rollback;
pub(crate) mod scale;
pub(crate) mod schema;
pub(crate) mod secrets;
pub(crate) mod status;
pub(crate) mod switch;
pub(crate) mod uninstall;
pub(crate) mod upgrade_engine;
pub(crate) mod validate;
pub(crate) mod version;

pub(crate) use schema::run as schema;
