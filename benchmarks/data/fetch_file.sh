# Sourced by the fetch.sh scripts in the folders beside this one (not run on its own).
#
# fetch_file GITDIR COMMIT PATH DEST SHA256 [HINT]
#   Writes PATH at COMMIT of the git directory GITDIR to DEST, only if its sha256 is SHA256 (through
#   DEST.part, removed on a mismatch, so a bad file is never left under its name). Prints why and returns 1
#   when the file is missing (HINT says how to get the repository) or its checksum differs.
fetch_file() {
  local gitdir=$1 commit=$2 path=$3 dest=$4 sha=$5 hint=${6:-fetch that repository first} got
  if ! git --git-dir="$gitdir" cat-file -e "$commit:$path" 2>/dev/null; then
    echo "missing: $path at $commit in $gitdir ($hint)" >&2
    return 1
  fi
  mkdir -p "$(dirname "$dest")"
  git --git-dir="$gitdir" show "$commit:$path" >"$dest.part"
  got=$(sha256sum "$dest.part" | cut -d' ' -f1)
  if [[ $got != "$sha" ]]; then
    echo "checksum mismatch: $dest ($got, expected $sha)" >&2
    rm -f "$dest.part"
    return 1
  fi
  mv "$dest.part" "$dest"
}

# fetch_files TARGET ENTRY...
#   fetch_file for each ENTRY, "GITDIR|COMMIT|PATH|NAME|SHA256" (PATH may contain spaces), writing
#   TARGET/NAME and printing "ok NAME"; returns 1 when any file failed (the others are still written).
fetch_files() {
  local target=$1 entry gitdir commit path name sha failed=0
  shift
  for entry in "$@"; do
    IFS='|' read -r gitdir commit path name sha <<<"$entry"
    if fetch_file "$gitdir" "$commit" "$path" "$target/$name" "$sha"; then
      echo "ok $name"
    else
      failed=1
    fi
  done
  return $failed
}
