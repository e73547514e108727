#!/bin/sh
# nbdime's git integration for this repository: `git diff` (and `git log -p --ext-diff`) show a
# notebook's changes cell by cell instead of as JSON. Writes .git/config; .gitattributes (committed)
# already routes *.ipynb to the "jupyternotebook" driver, and `nbdime config-git` leaves it as is.
# The drivers are written with absolute paths, so git finds them without an activated virtualenv.
# Usage: sh scripts/notebook-diffs.sh [BIN]   (BIN: the folder holding nbdime's commands; default: from PATH)
set -eu
bin=${1:-$(dirname "$(command -v nbdime)")}
bin=$(cd "$bin" && pwd)
"$bin/nbdime" config-git --enable
git config diff.jupyternotebook.command "$bin/git-nbdiffdriver diff"
git config merge.jupyternotebook.driver "$bin/git-nbmergedriver merge %O %A %B %L %P"
git config difftool.nbdime.cmd "$bin/git-nbdifftool diff \"\$LOCAL\" \"\$REMOTE\" \"\$BASE\""
git config mergetool.nbdime.cmd "$bin/git-nbmergetool merge \"\$BASE\" \"\$LOCAL\" \"\$REMOTE\" \"\$MERGED\""
echo "nbdime: git diff shows notebooks cell by cell in $(git rev-parse --show-toplevel)"
