# Sourced by the before/after scripts, with BASE set: a worktree of BASE in $OLD, removed
# when the script exits, and `machine`, the line that names this machine and the date.
OLD=$(mktemp -d)/before
git worktree add --detach "$OLD" "$BASE" >/dev/null 2>&1
trap 'git worktree remove --force "$OLD"' EXIT
machine() {
  echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
}
