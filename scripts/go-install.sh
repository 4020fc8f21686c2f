# Sourced by scripts/go-tools.sh and scripts/deploy-tools.sh: the go command (on the PATH, else
# /usr/local/go), and one Go command built from the Go module proxy into a folder.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then export PATH="$PATH:/usr/local/go/bin"; fi

need_go() {
  if ! command -v go >/dev/null 2>&1; then
    echo "$1: no go command; install Go 1.26.8 or later and run again" >&2
    exit 1
  fi
}

# go_install WHO BIN NAME MODULE/PATH@VERSION LDFLAGS: `go install` of one command into BIN/NAME
# (static, niced, built in a temporary folder and moved in whole).
go_install() {
  local who=$1 bin=$2 name=$3 pkg=$4 ldflags=$5 start tmp
  need_go "$who"
  echo "$who: building $name ${pkg##*@}"
  start=$(date +%s)
  tmp=$(mktemp -d)
  GOBIN="$tmp" CGO_ENABLED=0 nice -n 10 go install -trimpath -buildvcs=false -ldflags "-s -w $ldflags" "$pkg"
  mv "$tmp/$name" "$bin/$name"
  rmdir "$tmp"
  echo "$who: $name ${pkg##*@} ready in $(( $(date +%s) - start )) s"
}
