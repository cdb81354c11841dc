// Package static owns the files browsers download for Hearth's pages: the
// stylesheet (app.css), the chart script (app.js), the live pages' script
// (live.js) and the two libraries the pages build on, htmx and uPlot, with
// their licences. It embeds them in the binary and serves them; it knows
// nothing of the pages themselves, which ask it for URLs and integrity
// values by file name.
//
// The libraries are vendored, copied from the npm registry at pinned
// versions by scripts/vendor-assets.sh, which also records their checksums
// in vendor/VERSIONS. Hearth runs on premises, often on networks that do not
// reach the internet, and must not depend on a CDN being up, on a build
// step with its own toolchain, or on code that can change under it: the
// binary carries exactly the bytes that were reviewed, and a test checks
// them against VERSIONS.
//
// Every asset is served under a URL that contains the start of its SHA-256
// ("/static/app.3f9a0c1b2d.css"), so browsers and proxies may keep it for a
// year without asking again ("immutable"), and a new release, whose changed
// files get new URLs, is still picked up at once. Pages never link the plain
// names; only the hashed URLs are served, so a stale page cannot receive
// new bytes under an old name.
//
// Each text asset is gzip-compressed once, at the best level, when New runs,
// rather than on every request: the two cores of an on-premises box are
// better spent on telemetry, and phones on weak mobile links, the common
// case for facility managers, get the smallest files.
//
// The package has no package-level state besides the embedded files; New
// returns everything it computes.
package static
