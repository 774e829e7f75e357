#!/usr/bin/env bash
# Builds the local world's binaries from the Go module proxy, once, into a versioned cache outside the repo:
#   kube-apiserver, kube-controller-manager, kube-scheduler (k8s.io/kubernetes), etcd, kwok, and helm (the chart
#   renderer the agent shells out to, so render tests run the real engine).
# Prints the bin directory on the last line. Rebuilds only what is missing. Names given as arguments (etcd, kube,
# kwok, helm) limit the build to those, so a test that needs only helm does not wait for the control plane.
# Cache root: $TETHER_TESTENV_CACHE (default ~/.cache/tether/testenv).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
K8S=v1.34.4
ETCD=v3.6.6
KWOK=v0.8.0
HELM=v3.22.0
root=${TETHER_TESTENV_CACHE:-$HOME/.cache/tether/testenv}
bin="$root/k8s-$K8S-etcd-$ETCD-kwok-$KWOK/bin"
mkdir -p "$bin"
# One build at a time per cache: parallel test runs (or engineers) would otherwise compile the same binary twice
# into the same temporary file.
exec 9>"$root/.build.lock"
flock 9
# Go may need to build with -p 1 on a small machine; the default uses every core.
export GOFLAGS="${GOFLAGS:-} -mod=readonly -trimpath"
export CGO_ENABLED=0

only=" $* "
build() { # name module-dir package [ldflags]
  local name=$1 dir=$2 pkg=$3 ld=${4:-}
  if [ "$only" != "  " ] && [[ "$only" != *" $dir "* ]]; then return 0; fi
  if [ -x "$bin/$name" ]; then return 0; fi
  echo "building $name ($pkg) …" >&2
  local start=$SECONDS
  (cd "$here/go/$dir" && go build -ldflags "-s -w $ld" -o "$bin/$name.tmp" "$pkg")
  mv "$bin/$name.tmp" "$bin/$name"
  echo "built $name in $((SECONDS - start))s" >&2
}

v=k8s.io/component-base/version
k8sld="-X $v.gitVersion=$K8S -X $v.gitMajor=1 -X $v.gitMinor=34 -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z"
build etcd etcd go.etcd.io/etcd/server/v3
build kube-apiserver kube k8s.io/kubernetes/cmd/kube-apiserver "$k8sld"
build kube-controller-manager kube k8s.io/kubernetes/cmd/kube-controller-manager "$k8sld"
build kube-scheduler kube k8s.io/kubernetes/cmd/kube-scheduler "$k8sld"
build kwok kwok sigs.k8s.io/kwok/cmd/kwok
# helm is versioned by file name (the directory name predates it, and renaming it would rebuild every binary);
# `helm` links to the pinned build. Its go.mod needs Go 1.26.
build "helm-$HELM" helm helm.sh/helm/v3/cmd/helm "-X helm.sh/helm/v3/internal/version.version=$HELM"
if [ -x "$bin/helm-$HELM" ]; then ln -sfn "helm-$HELM" "$bin/helm"; fi
echo "$bin"
