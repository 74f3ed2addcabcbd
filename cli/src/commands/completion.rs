//! `kubectl voice completion`: shell completion scripts. bash, zsh and fish get scripts that
//! ask the binary (`kubectl-voice __complete`, see `complete.rs`), so flag values, parts and
//! component names complete, for `kubectl-voice …` and for `kubectl voice …`.

use crate::error::exit;

// The flags of `kubectl voice completion`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// bash, zsh or fish (elvish and powershell get static scripts).
    pub shell: clap_complete::Shell,
}

/// Runs the command; `cli` is the whole command tree (for the generated scripts).
pub(crate) fn run(args: Args, cli: &mut clap::Command) -> anyhow::Result<u8> {
    use clap_complete::Shell;
    let script = match args.shell {
        Shell::Bash => BASH,
        Shell::Zsh => ZSH,
        Shell::Fish => FISH,
        shell => {
            clap_complete::generate(shell, cli, "kubectl-voice", &mut std::io::stdout());
            return Ok(exit::OK);
        }
    };
    use std::io::Write as _;
    std::io::stdout().write_all(script.as_bytes())?;
    Ok(exit::OK)
}

/// bash: `source <(kubectl-voice completion bash)`. Completes `kubectl-voice`, and `kubectl
/// voice` when kubectl has no completion loaded (with kubectl's own completion,
/// `kubectl_complete-voice` on `PATH` does it).
const BASH: &str = r#"# bash completion for kubectl-voice
_kubectl_voice() {
    local -a w=() lines=() cands=()
    local i t start=1
    # Join what bash split at `=` (`--only=posthog` arrives as three words).
    for ((i = 0; i <= COMP_CWORD; i++)); do
        t="${COMP_WORDS[i]}"
        if ((${#w[@]} > 0)) && [[ "$t" == "=" || ( "${w[-1]}" == --*= && "${COMP_WORDS[i-1]}" == "=" ) ]]; then
            w[-1]+="$t"
        else
            w+=("$t")
        fi
    done
    local cword=$((${#w[@]} - 1)) cur="${w[-1]}"
    if [[ "${w[0]##*/}" != kubectl-voice ]]; then
        # `kubectl voice …`
        if ((cword == 1)); then
            mapfile -t COMPREPLY < <(compgen -W voice -- "$cur")
            return
        fi
        [[ "${w[1]}" == voice ]] || return
        start=2
    fi
    local out
    out=$(kubectl-voice __complete "${w[@]:start:cword-start}" "$cur" 2>/dev/null) || return
    mapfile -t lines <<<"$out"
    local directive="${lines[-1]#:}"
    unset 'lines[-1]'
    ((directive & 1)) && return
    ((directive & 2)) && compopt -o nospace 2>/dev/null
    ((directive & 4)) && compopt +o default 2>/dev/null
    # `--flag=val`: the answers are values; when bash splits at `=` they replace what
    # follows it, else they need the flag in front.
    local prefix=""
    [[ "$cur" == -*=* && "$COMP_WORDBREAKS" != *=* ]] && prefix="${cur%%=*}="
    for t in "${lines[@]}"; do
        t="${t%%$'\t'*}"
        [[ -n "$t" ]] && cands+=("$prefix$t")
    done
    COMPREPLY=("${cands[@]}")
}
complete -o default -F _kubectl_voice kubectl-voice
complete -p kubectl >/dev/null 2>&1 || complete -o default -F _kubectl_voice kubectl
"#;

/// zsh: `source <(kubectl-voice completion zsh)` after `compinit`.
const ZSH: &str = r#"#compdef kubectl-voice
# zsh completion for kubectl-voice
_kubectl_voice() {
    local -a args lines cands
    local out directive l v d start=2
    if [[ ${words[1]:t} != kubectl-voice ]]; then
        if (( CURRENT == 2 )); then
            compadd voice
            return
        fi
        [[ ${words[2]} == voice ]] || return 1
        start=3
    fi
    args=("${(@)words[start,CURRENT]}")
    out=$(kubectl-voice __complete "${args[@]}" 2>/dev/null) || return 1
    lines=("${(@f)out}")
    directive=${lines[-1]#:}
    lines=("${(@)lines[1,-2]}")
    (( directive & 1 )) && return 1
    if (( ${#lines} == 0 )); then
        (( directive & 4 )) || _files
        return
    fi
    # `--flag=val`: the answers are values; keep the flag out of the matching.
    [[ $PREFIX == -*=* ]] && compset -P '*='
    for l in "${lines[@]}"; do
        v=${l%%$'\t'*}
        d=
        [[ $l == *$'\t'* ]] && d=${l#*$'\t'}
        cands+=("${v//:/\\:}${d:+:$d}")
    done
    if (( directive & 2 )); then
        _describe -t values 'kubectl voice' cands -S ''
    else
        _describe -t values 'kubectl voice' cands
    fi
}
compdef _kubectl_voice kubectl-voice
(( $+_comps[kubectl] )) || compdef _kubectl_voice kubectl
"#;

/// fish: `kubectl-voice completion fish | source`.
const FISH: &str = r#"# fish completion for kubectl-voice
function __kubectl_voice_complete
    set -l args (commandline -opc)
    set -l prog (basename -- $args[1])
    set -e args[1]
    if test "$prog" != kubectl-voice
        set -e args[1]
    end
    set -l cur (commandline -ct)
    set -l out (kubectl-voice __complete $args "$cur" 2>/dev/null)
    or return
    set -l directive (string replace -- ':' '' $out[-1])
    set -e out[-1]
    if test (count $out) -eq 0; and test (math "$directive % 8 - $directive % 4") -eq 0
        __fish_complete_path "$cur"
        return
    end
    test (count $out) -gt 0; or return
    # `--flag=val`: the answers are values; fish wants the whole token.
    set -l prefix (string match -r -- '^-[^=]*=' "$cur")
    printf "$prefix%s\n" $out
end
function __kubectl_voice_after_kubectl
    set -l args (commandline -opc)
    test (count $args) -ge 2; and test "$args[2]" = voice
end
complete -c kubectl-voice -f -a '(__kubectl_voice_complete)'
# `kubectl voice …` (with kubectl's own completion loaded, kubectl asks
# kubectl_complete-voice and fish merges the identical answers).
complete -c kubectl -n '__fish_use_subcommand' -f -a voice -d 'The command voice is a plugin installed by the user'
complete -c kubectl -n '__kubectl_voice_after_kubectl' -f -a '(__kubectl_voice_complete)'
"#;
