#!/usr/bin/env bash
# Rebuild the judge's training folder (public TRAIN splits only, plus SICK test under eval_only/) from git
# mirrors of the public repositories listed in README.md, at the recorded commits, and check every file's
# sha256 against manifest.tsv (beside this script).
#
#   benchmarks/data/judge_train/fetch.sh [TARGET]      # TARGET defaults to /tmp/judge_train
#
# Each repository is a git directory (bare or .git), given by an environment variable; unset, the
# workspace's mirror path is tried (/work/.mirror/<owner>+<name>/repo, what the `fetch` tool creates):
#   SQUAD_EXPLORER_GIT  github.com/rajpurkar/SQuAD-explorer          (SQuAD v1.1 train, article pages;
#                                                                      an old gh-pages commit, not master)
#   QED_GIT             github.com/google-research-datasets/QED       (QED / NQ train shards; an early commit)
#   SUBJQA_GIT          github.com/megagonlabs/SubjQA                 (SubjQA train, 4 domains)
#   COVIDQA_GIT         github.com/deepset-ai/COVID-QA                (COVID-QA, release of 2020-04-23)
#   BRMSON_GIT          github.com/brmson/dataset-sts                 (TrecQA train, qtext,label,atext)
#   CASTORINI_GIT       github.com/castorini/data                     (WikiQA train, SICK train and test)
#   NLU_EVAL_GIT        github.com/marcwww/nlu_eval                   (GLUE RTE train)
#   CONJNLI_GIT         github.com/swarnaHub/ConjNLI                  (ConjNLI adversarial train)
# Only the files named in manifest.tsv are written (existing ones overwritten); nothing is deleted.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../fetch_file.sh"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TARGET=${1:-/tmp/judge_train}
MANIFEST=${MANIFEST:-$HERE/manifest.tsv}
MIRRORS=${MIRRORS:-/work/.mirror}

# The fetch tool leaves some mirrors as bare directories and some as .git directories inside a folder.
mirror() { if [[ -d $MIRRORS/$1/repo/.git ]]; then echo "$MIRRORS/$1/repo/.git"; else echo "$MIRRORS/$1/repo"; fi; }
SQUAD_EXPLORER_GIT=${SQUAD_EXPLORER_GIT:-$(mirror rajpurkar+SQuAD-explorer)}
QED_GIT=${QED_GIT:-$(mirror google-research-datasets+QED)}
SUBJQA_GIT=${SUBJQA_GIT:-$(mirror megagonlabs+SubjQA)}
COVIDQA_GIT=${COVIDQA_GIT:-$(mirror deepset-ai+COVID-QA)}
BRMSON_GIT=${BRMSON_GIT:-$(mirror brmson+dataset-sts)}
CASTORINI_GIT=${CASTORINI_GIT:-$(mirror castorini+data)}
NLU_EVAL_GIT=${NLU_EVAL_GIT:-$(mirror marcwww+nlu_eval)}
CONJNLI_GIT=${CONJNLI_GIT:-$(mirror swarnaHub+ConjNLI)}

failed=0
written=0
# manifest.tsv: repository variable, commit, path in the repository, file under TARGET, sha256 (tab-separated)
while IFS=$'\t' read -r var commit path name sha; do
  [[ -z $var || $var == \#* ]] && continue
  if ! fetch_file "${!var}" "$commit" "$path" "$TARGET/$name" "$sha" "fetch that repository first, or set $var"; then
    failed=1
    continue
  fi
  written=$((written + 1))
done <"$MANIFEST"
echo "$written files written under $TARGET"
exit $failed
