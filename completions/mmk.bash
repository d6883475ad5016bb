# bash completion for mmk (mmkit's command-line tool).
# Installed as share/bash-completion/completions/mmk; or: source completions/mmk.bash
# Keep in step with docs/cli.md (the docs_consistency test checks it).

_mmk() {
    local cur prev words cword
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    cword=$COMP_CWORD
    words=("${COMP_WORDS[@]}")

    local commands="count grep lines words merge help"
    local common="-j --threads --mmap --no-mmap --no-cache --no-progress --chunk-size --help"
    local count_opts="-F --fixed-strings -i --ignore-case -w --word-regexp -e --regexp -f --file
        -P --perl-regexp -H --with-filename --no-filename --json --by --top -h
        -s --no-messages -z --decompress --since --until --time-format
        -r --recursive -R --dereference-recursive --include --exclude --exclude-dir"
    local grep_opts="-F --fixed-strings -i -y --ignore-case -w --word-regexp -e --regexp -f --file
        -E --extended-regexp -P --perl-regexp -x --line-regexp -v --invert-match
        -c --count -o --only-matching -l --files-with-matches -L --files-without-match
        -q --quiet --silent -m --max-count -A --after-context -B --before-context -C --context
        -n --line-number -b --byte-offset -H --with-filename -h --no-filename --label -Z --null
        -s --no-messages -a --text --color --colour --line-buffered
        -r --recursive -R --dereference-recursive --include --exclude --exclude-dir
        -z --decompress --since --until --time-format --follow"
    local lines_opts="--json -h"
    local words_opts="--top --json -h"
    local merge_opts="--json --top -H --with-filename --no-filename -h --help"

    # the subcommand: the first word after mmk that is not an option
    local cmd="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            -*) ;;
            *) cmd=${words[i]}; break ;;
        esac
    done

    if [[ -z $cmd ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$commands -h --help -V --version" -- "$cur")
        return
    fi

    # option values; bash splits --color=auto at the '=' (COMP_WORDBREAKS)
    if [[ $prev == = && $cword -ge 2 ]]; then
        prev=${words[cword - 2]}
    fi
    case $prev in
        --color|--colour)
            mapfile -t COMPREPLY < <(compgen -W "auto always never" -- "$cur"); return ;;
        --time-format)
            mapfile -t COMPREPLY < <(compgen -W "auto iso8601 syslog clf" -- "$cur"); return ;;
        -f|--file|--include|--exclude)
            mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
        --exclude-dir)
            mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return ;;
        -j|--threads|-m|--max-count|-A|--after-context|-B|--before-context|-C|--context|\
        --top|--by|--chunk-size|-e|--regexp|--since|--until|--label)
            return ;;
    esac
    case $cur in
        --color=*|--colour=*)
            mapfile -t COMPREPLY < <(compgen -P "${cur%%=*}=" -W "auto always never" -- "${cur#*=}")
            return ;;
        --time-format=*)
            mapfile -t COMPREPLY < <(compgen -P "--time-format=" -W "auto iso8601 syslog clf" -- "${cur#*=}")
            return ;;
    esac

    if [[ $cur == -* ]]; then
        local opts
        case $cmd in
            count) opts="$count_opts $common" ;;
            grep) opts="$grep_opts $common" ;;
            lines) opts="$lines_opts $common" ;;
            words) opts="$words_opts $common" ;;
            merge) opts="$merge_opts" ;;
            help) opts="" ;;
            *) opts="$common" ;;
        esac
        mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
        return
    fi
    if [[ $cmd == help ]]; then
        mapfile -t COMPREPLY < <(compgen -W "count grep lines words merge" -- "$cur")
        return
    fi
    # files (and directories, which count and grep search)
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    compopt -o filenames 2>/dev/null
}
complete -F _mmk mmk
