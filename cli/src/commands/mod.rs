//! One module per verb, as cargo's `commands/*.rs`: each holds its flags (`Args`) and its
//! `run`, which parses, calls the shared flows (`crate::ops`) and cluster modules
//! (`crate::cluster`), and prints. No command calls another. Offline verbs run without a
//! runtime; cluster verbs run on tokio.

pub mod backup;
pub mod check;
pub mod completion;
pub mod dashboard;
pub mod diff;
pub mod history;
pub mod install;
pub mod logs;
pub mod plan;
pub mod profile;
pub mod render;
pub mod restart;
pub mod restore;
pub mod rollback;
pub mod scale;
pub mod schema;
pub mod status;
pub mod switch;
pub mod uninstall;
pub mod validate;
pub mod version;

pub use schema::run as schema;
