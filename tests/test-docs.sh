#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The docs follow the code:
#  - every command of `vgpuctl --help` is an item of COMMANDS in vgpuctl(8) and
#    is offered by the bash completion (data/vgpuctl.bash-completion);
#  - every option of `vgpuctl COMMAND --help` (the global ones included) is in
#    vgpuctl(8) and is offered by the completion after that command;
#  - every option of `vgpu-hook --help` is in vgpu-hook(8);
#  - every key plugin/vh-config.c accepts is an item of vgpu-hook.conf(5) and
#    is shown in the commented data/vgpu-hook.conf.
# The completion is exercised for real: the file is sourced into bash (with
# bash-completion's helpers when installed) and its function called as
# readline would.
set -uo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir/_build}
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
VGPUCTL=$top_builddir/vgpuctl
HOOK=$top_builddir/vgpu-hook
COMPLETION=$top_srcdir/data/vgpuctl.bash-completion

for f in "$VGPUCTL" "$HOOK"; do
    [ -x "$f" ] || { echo "FAIL: $f not built"; exit 1; }
done

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

# A man page as plain text for grepping: groff's \- to -, font escapes dropped.
man_text() {
    sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' "$1"
}
# Lines of one .SH section of a man page.
man_section() { # FILE TITLE
    man_text "$1" | awk -v t=".SH $2" '$0 == t { on = 1; next } /^\.SH / { on = 0 } on'
}
# The options a GOption --help prints, one a line: "-a", "--all", "--config".
help_options_all() {
    sed -nE 's/^ +((-[A-Za-z?]), )?(--[a-z0-9-]+).*/\2 \3/p' | tr ' ' '\n' | sed '/^$/d'
}
has_word() { # TEXT-FILE WORD: WORD not inside a longer option or name
    grep -qE -- "(^|[^A-Za-z0-9_-])$(sed 's/[.]/\\./g' <<<"$2")([^A-Za-z0-9_-]|$)" "$1"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-docs.XXXXXX")
trap 'rm -rf "$work"' EXIT
man_text "$top_srcdir/man/vgpuctl.8" > "$work/vgpuctl.8.txt"
man_section "$top_srcdir/man/vgpuctl.8" COMMANDS > "$work/commands.txt"
man_text "$top_srcdir/man/vgpu-hook.8" > "$work/vgpu-hook.8.txt"
man_text "$top_srcdir/man/vgpu-hook.conf.5" > "$work/conf.5.txt"

# Asks the completion what it offers for a command line that ends in CUR.
complete_words() { # WORD... (the last one is the word being completed)
    bash --norc --noprofile -c '
        [ -r /usr/share/bash-completion/bash_completion ] &&
            . /usr/share/bash-completion/bash_completion
        . "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        _vgpuctl vgpuctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPLETION" "$@"
}

# ---- vgpuctl commands
mapfile -t commands < <("$VGPUCTL" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
[ "${#commands[@]}" -ge 10 ] || bad "vgpuctl --help lists ${#commands[@]} commands (expected the command table)"
offered=$(complete_words vgpuctl "")
for cmd in "${commands[@]}"; do
    if grep -qE "^\.(B|BR|BI|IB|TQ) +\"?$cmd([ \"]|$)" "$work/commands.txt"; then ok; else
        bad "command '$cmd' (vgpuctl --help) is not an item of COMMANDS in man/vgpuctl.8"; fi
    if grep -qx -- "$cmd" <<<"$offered"; then ok; else
        bad "command '$cmd' (vgpuctl --help) is not offered by data/vgpuctl.bash-completion"; fi
done

# ---- global options: before the command
offered=$(complete_words vgpuctl -)
# the global options are those every command shows
for cmd in "${commands[@]}"; do "$VGPUCTL" "$cmd" --help | help_options_all | sort -u; done |
    sort | uniq -c | awk -v n="${#commands[@]}" '$1 == n { print $2 }' > "$work/globals"
mapfile -t globals < "$work/globals"
[ "${#globals[@]}" -ge 4 ] || bad "only ${#globals[@]} options are common to every command (expected the global ones)"
for opt in "${globals[@]}" --version; do
    if has_word "$work/vgpuctl.8.txt" "$opt"; then ok; else
        bad "global option $opt is not in man/vgpuctl.8"; fi
done
for opt in "${globals[@]}"; do
    if grep -qx -- "$opt" <<<"$offered"; then ok; else
        bad "global option $opt is not offered before a command by data/vgpuctl.bash-completion"; fi
done

# ---- each command's options (global ones included)
for cmd in "${commands[@]}"; do
    mapfile -t opts < <("$VGPUCTL" "$cmd" --help | help_options_all | sort -u)
    [ "${#opts[@]}" -ge 5 ] || bad "vgpuctl $cmd --help shows ${#opts[@]} options (expected at least the global ones)"
    list=$(complete_words vgpuctl "$cmd" -)
    for opt in "${opts[@]}"; do
        if has_word "$work/vgpuctl.8.txt" "$opt"; then ok; else
            bad "option $opt of 'vgpuctl $cmd' is not in man/vgpuctl.8"; fi
        if grep -qx -- "$opt" <<<"$list"; then ok; else
            bad "option $opt of 'vgpuctl $cmd' is not offered after '$cmd' by data/vgpuctl.bash-completion"; fi
    done
done

# ---- vgpu-hook
mapfile -t hook_opts < <("$HOOK" --help | help_options_all | sort -u)
[ "${#hook_opts[@]}" -ge 2 ] || bad "vgpu-hook --help shows ${#hook_opts[@]} options"
for opt in "${hook_opts[@]}"; do
    case $opt in -h | --help) continue ;; esac
    if has_word "$work/vgpu-hook.8.txt" "$opt"; then ok; else
        bad "option $opt of vgpu-hook --help is not in man/vgpu-hook.8"; fi
done

# ---- configuration keys: the accepted-key tables of vh-config.c
config_keys() { # ARRAY-NAME
    sed -n "/^static const char \*const $1\[\] = {/,/};/p" "$top_srcdir/plugin/vh-config.c" |
        grep -oE '"[a-z_]+"' | tr -d '"'
}
mapfile -t host_keys < <(config_keys host_keys)
mapfile -t resource_keys < <(config_keys resource_keys)
[ "${#host_keys[@]}" -ge 10 ] && [ "${#resource_keys[@]}" -ge 4 ] ||
    bad "cannot read the key tables of plugin/vh-config.c (${#host_keys[@]} host keys, ${#resource_keys[@]} resource keys)"
for key in "${host_keys[@]}" "${resource_keys[@]}"; do
    if grep -qE "^\.(B|BR|BI) +\"?$key=" "$work/conf.5.txt"; then ok; else
        bad "configuration key '$key' (plugin/vh-config.c) is not an item of man/vgpu-hook.conf.5"; fi
    if grep -qE "^# *$key=" "$top_srcdir/data/vgpu-hook.conf"; then ok; else
        bad "configuration key '$key' (plugin/vh-config.c) is not shown in data/vgpu-hook.conf"; fi
done

echo "docs: $passed checks passed, $failed failed (${#commands[@]} commands, ${#host_keys[@]}+${#resource_keys[@]} config keys)"
[ "$failed" -eq 0 ]
