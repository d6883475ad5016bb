# fish completion for mmk (mmkit's command-line tool).
# Installed as share/fish/vendor_completions.d/mmk.fish.
# Keep in step with docs/cli.md (the docs_consistency test checks it).

set -l mmk_commands count grep lines words merge help
complete -c mmk -f
complete -c mmk -n "not __fish_seen_subcommand_from $mmk_commands" -a count -d 'Number of matches (or counts per value with --by)'
complete -c mmk -n "not __fish_seen_subcommand_from $mmk_commands" -a grep -d 'Print the lines that match'
complete -c mmk -n "not __fish_seen_subcommand_from $mmk_commands" -a lines -d 'Count lines, as wc -l'
complete -c mmk -n "not __fish_seen_subcommand_from $mmk_commands" -a words -d 'Word frequencies'
complete -c mmk -n "not __fish_seen_subcommand_from $mmk_commands" -a merge -d 'Add up the --json outputs of shards'
complete -c mmk -n "not __fish_seen_subcommand_from $mmk_commands" -a help -d 'Help on a command'
complete -c mmk -n "not __fish_seen_subcommand_from $mmk_commands" -s h -l help -d 'Print help'
complete -c mmk -n "not __fish_seen_subcommand_from $mmk_commands" -s V -l version -d 'Print the version'
complete -c mmk -n "__fish_seen_subcommand_from help" -a 'count grep lines words merge'

# every subcommand
set -l all "__fish_seen_subcommand_from count grep lines words"
complete -c mmk -n $all -s j -l threads -x -d 'Worker threads (0 = all cores)'
complete -c mmk -n $all -l mmap -d 'Read files through a memory map'
complete -c mmk -n $all -l no-mmap -d 'Read files with pread() into buffers'
complete -c mmk -n $all -l no-cache -d 'Drop files from the page cache behind the scan'
complete -c mmk -n $all -l no-progress -d 'Never show the progress bar'
complete -c mmk -n $all -l chunk-size -x -d 'Testing: bytes per unit of work'
complete -c mmk -n $all -l help -d 'Print help'
complete -c mmk -n $all -F
complete -c mmk -n "__fish_seen_subcommand_from count lines words" -s h -d 'Print help'

# count and grep
set -l search "__fish_seen_subcommand_from count grep"
complete -c mmk -n $search -s e -l regexp -x -d 'A pattern (may be repeated)'
complete -c mmk -n $search -s f -l file -r -F -d 'Read patterns from a file'
complete -c mmk -n $search -s F -l fixed-strings -d 'The patterns are literal strings'
complete -c mmk -n $search -s i -l ignore-case -d 'ASCII case-insensitive'
complete -c mmk -n $search -s w -l word-regexp -d 'Match whole words only'
complete -c mmk -n $search -s H -l with-filename -d 'Always print the file name'
complete -c mmk -n $search -l no-filename -d 'Never print the file name'
complete -c mmk -n $search -s P -l perl-regexp -d 'Accepted; PCRE2 syntax is the only syntax'
complete -c mmk -n $search -s s -l no-messages -d 'No messages about unreadable or compressed files'
complete -c mmk -n $search -s r -l recursive -d 'Search directories recursively'
complete -c mmk -n $search -s R -l dereference-recursive -d 'Recursive, following all symlinks'
complete -c mmk -n $search -l include -r -F -d 'Only files whose name matches GLOB'
complete -c mmk -n $search -l exclude -r -F -d 'Skip files whose name matches GLOB'
complete -c mmk -n $search -l exclude-dir -x -a '(__fish_complete_directories)' -d 'Skip directories whose name matches GLOB'
complete -c mmk -n $search -s z -l decompress -d 'Search inside gzip, zstd, xz, bzip2 files'
complete -c mmk -n $search -l since -x -d 'Only lines at or after TIME'
complete -c mmk -n $search -l until -x -d 'Only lines before TIME'
complete -c mmk -n $search -l time-format -x -a 'auto iso8601 syslog clf' -d 'Timestamp format'

# count
set -l count "__fish_seen_subcommand_from count"
complete -c mmk -n $count -l by -x -d 'Counts per value of a capture group (number, name, 0)'
complete -c mmk -n "__fish_seen_subcommand_from count words" -l top -x -d 'Only the N most frequent'
complete -c mmk -n "__fish_seen_subcommand_from count lines words" -l json -d 'One JSON document'

# merge
set -l merge "__fish_seen_subcommand_from merge"
complete -c mmk -n $merge -l json -d 'Print the merged JSON document'
complete -c mmk -n $merge -l top -x -d 'Only the N first rows after the merge'
complete -c mmk -n $merge -s H -l with-filename -d 'count: always print the file name'
complete -c mmk -n $merge -l no-filename -d 'count: never print the file name'
complete -c mmk -n $merge -s h -l help -d 'Print help'
complete -c mmk -n $merge -F

# grep
set -l grep "__fish_seen_subcommand_from grep"
complete -c mmk -n $grep -s h -d 'Never print the file name'
complete -c mmk -n $grep -s E -l extended-regexp -d 'Accepted; PCRE2 syntax either way'
complete -c mmk -n $grep -s y -d 'ASCII case-insensitive, as -i'
complete -c mmk -n $grep -s x -l line-regexp -d 'Only matches of the whole line'
complete -c mmk -n $grep -s v -l invert-match -d 'Select non-matching lines'
complete -c mmk -n $grep -s c -l count -d 'Print the number of selected lines'
complete -c mmk -n $grep -s o -l only-matching -d 'Print only the matches'
complete -c mmk -n $grep -s l -l files-with-matches -d 'Print names of files with a match'
complete -c mmk -n $grep -s L -l files-without-match -d 'Print names of files without a match'
complete -c mmk -n $grep -s q -l quiet -l silent -d 'Print nothing; exit 0 on a match'
complete -c mmk -n $grep -s m -l max-count -x -d 'Stop after N selected lines'
complete -c mmk -n $grep -s A -l after-context -x -d 'Lines after each match'
complete -c mmk -n $grep -s B -l before-context -x -d 'Lines before each match'
complete -c mmk -n $grep -s C -l context -x -d 'Lines before and after'
complete -c mmk -n $grep -s n -l line-number -d 'Prefix the line number'
complete -c mmk -n $grep -s b -l byte-offset -d 'Prefix the byte offset'
complete -c mmk -n $grep -l label -x -d 'The name shown for standard input'
complete -c mmk -n $grep -s Z -l null -d 'End file names with a NUL byte'
complete -c mmk -n $grep -s a -l text -d 'Accepted; binary files are searched as text'
complete -c mmk -n $grep -l color -l colour -f -a 'auto always never' -d 'Highlight matches'
complete -c mmk -n $grep -l line-buffered -d 'Write each line at once'
complete -c mmk -n $grep -l follow -d 'Keep reading the file as it grows'
