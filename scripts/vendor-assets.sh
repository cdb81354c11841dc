#!/usr/bin/env bash
# Re-fetches the browser libraries that Hearth embeds (htmx and uPlot) from
# the npm registry at pinned versions, checks each package tarball against
# its pinned integrity, copies the built files and licences into
# web/ui/static/vendor/, rewrites web/ui/static/vendor/VERSIONS and prints the
# SHA-256 of every vendored file.
#
# Run it from anywhere in the repository to upgrade a library (change the
# version and integrity below; `npm view htmx.org@X dist.integrity` gives the
# latter) or to check that the vendored files are exactly what the registry
# serves: after a run, `git diff web/ui/static/vendor` must be empty unless a
# version changed. Needs npm, node, tar and sha256sum; nothing at build or
# test time runs it.
set -euo pipefail

htmx_version=2.0.11
htmx_integrity=sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==
uplot_version=1.6.32
uplot_integrity=sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==

root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/web/ui/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fetch NAME VERSION INTEGRITY: npm pack into $work/NAME and unpack there.
fetch() {
	local name=$1 version=$2 want=$3 tgz got
	mkdir -p "$work/$name"
	tgz=$(cd "$work/$name" && npm pack --silent "$name@$version" 2>/dev/null | tail -n 1)
	got=$(node -e '
		const fs = require("fs"), crypto = require("crypto");
		const sum = crypto.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64");
		process.stdout.write("sha512-" + sum);
	' "$work/$name/$tgz")
	if [[ $got != "$want" ]]; then
		echo "vendor-assets: $name@$version: integrity $got, want $want" >&2
		exit 1
	fi
	tar -xzf "$work/$name/$tgz" -C "$work/$name"
}

fetch htmx.org "$htmx_version" "$htmx_integrity"
fetch uplot "$uplot_version" "$uplot_integrity"

mkdir -p "$dest"
install -m 0644 "$work/htmx.org/package/dist/htmx.min.js" "$dest/htmx.min.js"
install -m 0644 "$work/htmx.org/package/LICENSE" "$dest/htmx.LICENSE.txt"
install -m 0644 "$work/uplot/package/dist/uPlot.iife.min.js" "$dest/uPlot.iife.min.js"
install -m 0644 "$work/uplot/package/dist/uPlot.min.css" "$dest/uPlot.min.css"
install -m 0644 "$work/uplot/package/LICENSE" "$dest/uPlot.LICENSE.txt"

files=(htmx.min.js htmx.LICENSE.txt uPlot.iife.min.js uPlot.min.css uPlot.LICENSE.txt)
{
	echo "# Browser libraries embedded in Hearth, fetched from the npm registry by"
	echo "# scripts/vendor-assets.sh, which writes this file. Do not edit by hand."
	echo "#"
	echo "# package version npm-tarball-integrity"
	echo "htmx.org $htmx_version $htmx_integrity"
	echo "uplot $uplot_version $uplot_integrity"
	echo "#"
	echo "# sha256  file (check: cd web/ui/static/vendor && grep -E '^[0-9a-f]{64} ' VERSIONS | sha256sum -c)"
	(cd "$dest" && sha256sum "${files[@]}")
} >"$dest/VERSIONS"

(cd "$dest" && sha256sum "${files[@]}")
