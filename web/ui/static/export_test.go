package static

import (
	"crypto/sha256"
	"io/fs"
)

// Files are the embedded files, for tests that check each is served.
var Files fs.FS = files

// NewFromFS prepares the files of fsys as New prepares the embedded ones.
var NewFromFS = newFromFS

// AcceptsGzip and NoneMatch parse request headers.
var (
	AcceptsGzip = acceptsGzip
	NoneMatch   = noneMatch
)

// HashedURL is the URL an asset named name with the given content gets.
func HashedURL(name string, content []byte) string {
	return hashedURL(name, sha256.Sum256(content))
}
