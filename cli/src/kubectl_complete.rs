//! `kubectl_complete-voice`: what kubectl (≥ 1.26) runs to complete `kubectl voice …`.
//! kubectl passes the words after `kubectl voice`; this hands them to `kubectl-voice
//! __complete` (beside this executable, else on `PATH`), which answers in cobra's format.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // Accept an explicit `__complete` too, as some wrappers pass it.
    if args.first().is_some_and(|a| a == "__complete") {
        args.remove(0);
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|p| {
            p.parent()
                .map(|d| d.join(format!("kubectl-voice{}", std::env::consts::EXE_SUFFIX)))
        })
        .filter(|p| p.is_file());
    let program = beside.map_or_else(|| "kubectl-voice".into(), |p| p.into_os_string());
    let mut cmd = Command::new(program);
    cmd.arg("__complete").args(args);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        let e = cmd.exec();
        eprintln!("kubectl_complete-voice: running kubectl-voice: {e}");
        ExitCode::from(1)
    }
    #[cfg(not(unix))]
    match cmd.status() {
        Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(1)).unwrap_or(1)),
        Err(e) => {
            eprintln!("kubectl_complete-voice: running kubectl-voice: {e}");
            ExitCode::from(1)
        }
    }
}
