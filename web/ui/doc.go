// Package ui serves Hearth's pages: sign-in (local accounts and OpenID
// Connect single sign-on), the customer dashboard (overview, sites,
// devices with live values, charts, settings and their history) and the
// operator pages.
//
// Pages are rendered on the server with templ (pages.templ; the generated
// pages_templ.go is committed: run `go tool templ generate` at the
// repository's root after a change, which CI checks); htmx refreshes parts of a
// page and uPlot draws charts, both embedded (package static), so a page
// needs nothing from the internet and no JavaScript build step. The live
// parts of the overview, site and device pages come over server-sent
// events that the event bus wakes (live.go). Every
// text a person reads is a message of the catalogue in messages/, one
// file a language with the same keys (en.yaml, ja.yaml), embedded and
// read with go-i18n; pages ask for a message by key with t or view.T,
// and a new language is a new file (and its choice on the account
// page).
//
// The package decides nothing about tenancy itself: every record a page
// shows or changes comes through web/api's Scope for the signed-in
// principal, the same layer the REST routes use. Sessions live on the
// server (package store), in cookies that are Secure, HttpOnly and
// SameSite=Lax, with an idle and an absolute timeout; state-changing
// requests must come from Hearth's own pages (net/http's
// CrossOriginProtection).
package ui
