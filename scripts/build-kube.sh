#!/usr/bin/env bash
# Builds the tests' Kubernetes control plane from Go modules, once, into the git-ignored tools dir:
#   .tools/kube/kubernetes-<v>/bin/{kube-apiserver,kube-controller-manager,kube-scheduler}
#   .tools/kube/etcd-<v>/bin/etcd
#   .tools/kube/kwok-<v>[-patched-<hash>]/bin/kwok, with stages.yaml (kwok's default node and pod stages) and
#     crds/ (kwok's Exec and Logs CRDs) beside bin/; <hash> names the patches in scripts/kube/kwok/patches
# The versions are those pinned in scripts/kube/*/go.mod (and read from there by test/support/kubernetes.ts);
# a component whose files for its pinned version (and patches) are present is skipped. Go builds run at nice 19: the
# machines are shared. GAMEDAY_TOOLS_DIR moves the tools dir (a cold-build measurement uses a fresh one).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
modules="$root/scripts/kube"
tools="${GAMEDAY_TOOLS_DIR:-$root/.tools}/kube"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"
# Byte order for globs: the patches' hash must match the one test/support/kubernetes.ts computes.
export LC_ALL=C

log() { echo "[kube] $*" >&2; }

# The version a wrapper go.mod requires a module at (tidy lists it among the indirect requirements of its tools).
pinned() { awk -v module="$2" '$1 == module && $2 ~ /^v/ { print $2; exit }' "$modules/$1/go.mod"; }

command -v go >/dev/null || {
  log "Go is not installed: cannot build the Kubernetes test control plane"
  exit 1
}
mkdir -p "$tools"
# Two test runs sharing the tools dir (worktrees) build one at a time; the second then finds everything built.
exec 9>"$tools/.build.lock"
flock 9

kubernetes=$(pinned kubernetes k8s.io/kubernetes)
etcd=$(pinned etcd go.etcd.io/etcd/server/v3)
kwok=$(pinned kwok sigs.k8s.io/kwok)

present() {
  local file
  for file in "$@"; do [ -s "$file" ] || return 1; done
}

# build <wrapper dir> <out dir> <ldflags> <package>=<binary>...: downloads the modules, then builds every
# binary in one `go build` per package set, into a scratch dir first so a half-done build never counts as present.
build() {
  local wrapper=$1 out=$2 ldflags=$3
  shift 3
  local scratch="$out.partial.$$" started=$SECONDS pair names="" dir="$modules/$wrapper"
  # An absolute path is a wrapper's copy (a patched kwok builds from one).
  [[ $wrapper == /* ]] && dir=$wrapper
  for pair in "$@"; do names+=" ${pair#*=}"; done
  rm -rf "$scratch" && mkdir -p "$scratch" "$out"
  log "downloading the modules of ${wrapper#"$tools/"}"
  (cd "$dir" && go mod download)
  log "downloaded in $((SECONDS - started)) s; compiling$names (cold, kubernetes takes about a quarter of an hour on 2 cores)"
  for pair in "$@"; do
    (cd "$dir" && nice -n 19 go build -trimpath -ldflags "-s -w $ldflags" -o "$scratch/${pair#*=}" "${pair%%=*}")
  done
  for pair in "$@"; do mv -f "$scratch/${pair#*=}" "$out/${pair#*=}"; done
  rm -rf "$scratch"
  log "built ${wrapper#"$tools/"} in $((SECONDS - started)) s"
}

kubernetesBin="$tools/kubernetes-$kubernetes/bin"
if present "$kubernetesBin"/{kube-apiserver,kube-controller-manager,kube-scheduler}; then
  log "kubernetes $kubernetes: present in $kubernetesBin"
else
  minor=${kubernetes#v*.}
  minor=${minor%%.*}
  versionFlags=""
  for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    versionFlags+=" -X $package.gitVersion=$kubernetes -X $package.gitMajor=1 -X $package.gitMinor=$minor"
    versionFlags+=" -X $package.gitTreeState=clean"
  done
  build kubernetes "$kubernetesBin" "$versionFlags" \
    k8s.io/kubernetes/cmd/kube-apiserver=kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager=kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler=kube-scheduler
fi

etcdBin="$tools/etcd-$etcd/bin"
if present "$etcdBin/etcd"; then
  log "etcd $etcd: present in $etcdBin"
else
  build etcd "$etcdBin" "" go.etcd.io/etcd/server/v3=etcd
fi

# kwok's own patches (each says why), applied to a copy of its module; the build dir is named by their hash, so a
# patched kwok never passes for a plain one or for one with other patches.
kwokPatches=("$modules"/kwok/patches/*.patch)
[ -e "${kwokPatches[0]}" ] || kwokPatches=()
kwokDir="$tools/kwok-$kwok"
if [ ${#kwokPatches[@]} -gt 0 ]; then
  kwokDir+="-patched-$(cat "${kwokPatches[@]}" | sha256sum | cut -c1-12)"
fi
kwokCrds=(execs logs)
kwokCrdFiles=()
for crd in "${kwokCrds[@]}"; do kwokCrdFiles+=("$kwokDir/crds/kwok.x-k8s.io_$crd.yaml"); done
if present "$kwokDir/bin/kwok" "$kwokDir/stages.yaml" "${kwokCrdFiles[@]}"; then
  log "kwok $kwok: present in $kwokDir/bin"
else
  (cd "$modules/kwok" && go mod download sigs.k8s.io/kwok)
  source=$(cd "$modules/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  wrapper=kwok
  if [ ${#kwokPatches[@]} -gt 0 ]; then
    # Go refuses -overlay for files in the module cache: the patched module is a copy, which a copy of the
    # wrapper module replaces sigs.k8s.io/kwok with (its dependencies stay those of the wrapper's go.sum).
    patched="$kwokDir.source.$$"
    rm -rf "$patched" && mkdir -p "$patched/wrapper"
    cp -r "$source" "$patched/kwok" && chmod -R u+w "$patched/kwok"
    for patch in "${kwokPatches[@]}"; do
      log "kwok: applying $(basename "$patch")"
      patch --quiet --forward -p1 -d "$patched/kwok" <"$patch"
    done
    cp "$modules/kwok/go.mod" "$modules/kwok/go.sum" "$patched/wrapper/"
    (cd "$patched/wrapper" && go mod edit -replace=sigs.k8s.io/kwok=../kwok)
    wrapper="$patched/wrapper"
  fi
  build "$wrapper" "$kwokDir/bin" "" sigs.k8s.io/kwok/cmd/kwok=kwok
  [ "$wrapper" = kwok ] || rm -rf "$patched"
  # The kwok binary has no stages of its own (kwokctl passes these): nodes that become Ready and keep a lease,
  # pods that run, become Ready, complete and are finalized on delete.
  for stage in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    echo "---"
    cat "$source/kustomize/stage/$stage.yaml"
  done >"$kwokDir/stages.yaml.partial"
  mv -f "$kwokDir/stages.yaml.partial" "$kwokDir/stages.yaml"
  # The CRDs of what kwok's server reads for exec and logs (--enable-crds=Exec,Logs): the tests declare per pod
  # what an exec runs and which files are a container's logs.
  mkdir -p "$kwokDir/crds"
  for crd in "${kwokCrds[@]}"; do
    cp "$source/kustomize/crd/bases/kwok.x-k8s.io_$crd.yaml" "$kwokDir/crds/kwok.x-k8s.io_$crd.yaml.partial"
    mv -f "$kwokDir/crds/kwok.x-k8s.io_$crd.yaml.partial" "$kwokDir/crds/kwok.x-k8s.io_$crd.yaml"
  done
fi
