// Package artifact keeps the files operators upload for devices to
// download — firmware images, configuration bundles — and hands them out
// through signed, expiring HTTPS links, as AWS IoT Jobs hands out
// pre-signed S3 URLs.
//
// Content is stored once per SHA-256, under the data directory as
// artifacts/sha256/ab/abcd…, written whole to a temporary file in
// artifacts/tmp (streamed, never held in memory), synced, and renamed into
// place; the record naming it (name, size, SHA-256, the signature the
// operator gave, content type, who and when) is kept in the store. Names
// may be replaced with new content; content no longer named by any
// artifact is removed, except while a backup holds it (Hold).
//
// A download link is
//
//	BASE/artifacts/<sha256>/<name>?expires=<unix seconds>&signature=<hex>
//
// where the signature is an HMAC-SHA256, with a random key kept in the
// store, of the path and the expiry. Handler serves such links without any
// other credential, with Range requests (an interrupted download resumes)
// and the SHA-256 as ETag. A link whose signature does not match, or that
// has expired, is refused with 403, as S3 refuses an expired pre-signed
// URL: device libraries written for AWS (the AWS IoT OTA library among
// them) read a 403 as "ask for a new link". Content the link no longer
// names — the artifact deleted, or replaced — is 404.
//
// The package imports only the standard library and the store.
package artifact
