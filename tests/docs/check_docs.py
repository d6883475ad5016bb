#!/usr/bin/env python3
"""The documentation of mmk stays true as options are added (CTest: docs_consistency).

    MMK=BUILD/mmk python3 tests/docs/check_docs.py SOURCE_DIR

Checks, each printed as one line (ok / FAIL / skip):
- docs/mmk.1 renders with `groff -man -Tutf8 -ww` without a warning (skip when
  groff is not installed);
- the completions parse: `bash -n completions/mmk.bash`, `zsh -n
  completions/_mmk`, `fish -n completions/mmk.fish` (zsh and fish: skip when
  not installed);
- every long option that `mmk --help` and `mmk COMMAND --help` print (for each
  COMMAND that `mmk --help` lists) is mentioned in docs/cli.md, docs/mmk.1
  and the three completions;
- bash and fish (when installed) really complete them: sourcing the script and
  completing `mmk COMMAND --` offers every long option of that command's help.
Exit status 1 when any check fails.
"""

import os
import re
import shutil
import subprocess
import sys

FAILS = []


def report(ok, what, detail=""):
    if ok is None:
        print("skip: %s%s" % (what, (" (%s)" % detail) if detail else ""))
        return
    print("%s: %s%s" % ("ok" if ok else "FAIL", what,
                        ("\n    " + detail) if (detail and not ok) else ""))
    if not ok:
        FAILS.append(what)


def long_options(text):
    """The long options named in a help text, in order of appearance."""
    seen = []
    for m in re.finditer(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)", text):
        if m.group(1) not in seen:
            seen.append(m.group(1))
    return seen


def mentions(text, opt, style):
    """Whether `text` names long option `opt` (without the dashes)."""
    if style == "fish":  # complete ... -l OPT
        return re.search(r"(?:^|\s)-l\s+%s(?![\w-])" % re.escape(opt), text, re.M) is not None
    return re.search(r"(?<![\w-])--%s(?![\w-])" % re.escape(opt), text) is not None


def unroff(text):
    """The man page's text with roff's escaped hyphens made plain."""
    return text.replace("\\-", "-").replace("\\~", " ")


def main():
    src = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                          os.path.join(os.path.dirname(__file__), "..", ".."))
    mmk = os.environ.get("MMK")
    man = os.path.join(src, "docs", "mmk.1")
    cli_md = os.path.join(src, "docs", "cli.md")
    comp = {"bash": os.path.join(src, "completions", "mmk.bash"),
            "zsh": os.path.join(src, "completions", "_mmk"),
            "fish": os.path.join(src, "completions", "mmk.fish")}

    # 1. the man page renders without warnings
    if shutil.which("groff"):
        p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", man], capture_output=True)
        err = p.stderr.decode("utf-8", "replace").strip()
        report(p.returncode == 0 and not err and len(p.stdout) > 1000,
               "groff -man -Tutf8 -ww docs/mmk.1 renders without warnings", err[:2000])
    else:
        report(None, "groff -man -ww docs/mmk.1", "groff not installed")

    # 2. the completions parse
    for shell, path in (("bash", comp["bash"]), ("zsh", comp["zsh"]), ("fish", comp["fish"])):
        if not shutil.which(shell):
            report(None, "%s -n %s" % (shell, os.path.relpath(path, src)),
                   "%s not installed" % shell)
            continue
        p = subprocess.run([shell, "-n", path], capture_output=True)
        report(p.returncode == 0, "%s -n %s" % (shell, os.path.relpath(path, src)),
               p.stderr.decode("utf-8", "replace").strip())

    # 3. every long option of every --help is documented and completed
    if not mmk or not os.access(mmk, os.X_OK):
        report(False, "MMK names the built mmk", "MMK=%r" % mmk)
        return 1
    top = subprocess.run([mmk, "--help"], capture_output=True).stdout.decode("utf-8", "replace")
    cmds = re.findall(r"^\s+([a-z]+)\s", top.split("Commands:", 1)[1].split("\n\n")[0], re.M) \
        if "Commands:" in top else []
    report(len(cmds) >= 4, "mmk --help lists the subcommands", " ".join(cmds))
    opts = {"": long_options(top)}
    for c in cmds:
        p = subprocess.run([mmk, c, "--help"], capture_output=True)
        opts[c] = long_options(p.stdout.decode("utf-8", "replace"))
        report(p.returncode == 0 and bool(opts[c]), "mmk %s --help prints its options" % c)
    texts = {"docs/cli.md": (open(cli_md).read(), "plain"),
             "docs/mmk.1": (unroff(open(man).read()), "plain"),
             "completions/mmk.bash": (open(comp["bash"]).read(), "plain"),
             "completions/_mmk": (open(comp["zsh"]).read(), "plain"),
             "completions/mmk.fish": (open(comp["fish"]).read(), "fish")}
    for name, (text, style) in texts.items():
        missing = ["%s--%s" % ((c + " ") if c else "", o) for c, os_ in opts.items() for o in os_
                   if not mentions(text, o, style)]
        n = sum(len(v) for v in opts.values())
        report(not missing, "%s names every long option of the --help texts (%d)" % (name, n),
               "missing: " + ", ".join(missing))
    for c in cmds:
        want = set(opts[c])
        if not want:
            continue
        # bash: complete "mmk CMD --"
        script = ('source "$1"; COMP_WORDS=(mmk %s --); COMP_CWORD=2; _mmk; '
                  'printf "%%s\\n" "${COMPREPLY[@]}"' % c)
        p = subprocess.run(["bash", "-c", script, "bash", comp["bash"]], capture_output=True)
        got = {x[2:] for x in p.stdout.decode().split() if x.startswith("--")}
        report(want <= got, "bash completes every long option of mmk %s" % c,
               "not offered: " + ", ".join(sorted("--" + x for x in want - got)))
        if shutil.which("fish"):
            p = subprocess.run(["fish", "-c", 'source $argv[1]; complete -C "mmk %s --"' % c,
                                comp["fish"]], capture_output=True)
            got = {ln.split("\t")[0][2:].split("=")[0] for ln in p.stdout.decode().splitlines()
                   if ln.startswith("--")}
            report(want <= got, "fish completes every long option of mmk %s" % c,
                   "not offered: " + ", ".join(sorted("--" + x for x in want - got)))
    if FAILS:
        print("docs check: %d check(s) failed" % len(FAILS))
        return 1
    print("docs check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
