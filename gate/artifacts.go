package gate

import (
	"errors"
	"io"
	"time"

	"github.com/hearthiot/hearth/jobs/artifact"
)

// Artifact is an uploaded file devices download (firmware, say), as the
// API and the pages show it.
type Artifact = artifact.Artifact

// ArtifactLink is a signed download link and when it stops working.
type ArtifactLink = artifact.Link

// Artifacts keeps the files devices download; *artifact.Store implements
// it.
type Artifacts interface {
	Put(name string, r io.Reader, p artifact.PutOptions) (artifact.Artifact, error)
	Get(name string) (artifact.Artifact, error)
	List() ([]artifact.Artifact, error)
	Delete(name string) error
	SignedLink(name string, ttl time.Duration) (artifact.Link, error)
	MaxSize() int64
}

// DefaultArtifactLinkTTL is how long a link an operator asks for works
// when they do not say.
const DefaultArtifactLinkTTL = time.Hour

// ArtifactUpload is a file an operator uploads.
type ArtifactUpload struct {
	Name string
	// Size is the length the request declared, or -1 when it declared
	// none; a declared length over the limit is refused before anything
	// is read.
	Size int64
	Body io.Reader
	// Signature is an optional code signature (base64) kept for devices.
	Signature string
	// ContentType is what downloads are served as; empty is
	// application/octet-stream.
	ContentType string
}

// artifacts checks access to artifacts: operators only, on a server that
// keeps them.
func (s Scope) artifacts() (Artifacts, error) {
	if err := s.operatorOnly("artifacts"); err != nil {
		return nil, err
	}
	if s.g.artifacts == nil {
		return nil, Unavailable("artifacts are not available here: upload them through the running server")
	}
	return s.g.artifacts, nil
}

// ArtifactMaxSize is the largest artifact the server accepts, in bytes;
// 0 when it keeps none.
func (g *Gate) ArtifactMaxSize() int64 {
	if g.artifacts == nil {
		return 0
	}
	return g.artifacts.MaxSize()
}

// minUploadRate is the slowest upload of an artifact the channels wait
// for: two minutes plus the file at this rate (256 MiB: about 2.3 hours).
const minUploadRate = 32 << 10

// ArtifactUploadTime is how long the channels let an upload of declared
// bytes take (-1 when the request declares no length: as long as the
// largest artifact accepted), so that the HTTP server's read and write
// timeouts do not cut a large file on a slow link.
func (g *Gate) ArtifactUploadTime(declared int64) time.Duration {
	size := declared
	if g.artifacts != nil && (size < 0 || size > g.artifacts.MaxSize()) {
		size = g.artifacts.MaxSize()
	}
	return 2*time.Minute + time.Duration(max(size, 0)/minUploadRate)*time.Second
}

// artifactError turns the artifact store's refusals into the gate's.
func artifactError(err error) error {
	switch {
	case errors.Is(err, artifact.ErrTooLarge):
		return Refuse(KindTooLarge, "%v", err)
	case errors.Is(err, artifact.ErrNotFound):
		return NotFound("artifact")
	}
	return err
}

// PutArtifact stores an uploaded file as the artifact u.Name, replacing
// the content of one of that name; operators only. A declared size over
// the limit is refused before the body is read, and so is a bad name.
func (s Scope) PutArtifact(u ArtifactUpload) (Artifact, error) {
	a, err := s.artifacts()
	if err != nil {
		return Artifact{}, err
	}
	if max := a.MaxSize(); u.Size > max {
		return Artifact{}, Refuse(KindTooLarge, "artifact %q is %d bytes, larger than the %d bytes accepted", u.Name, u.Size, max)
	}
	out, err := a.Put(u.Name, u.Body, artifact.PutOptions{Signature: u.Signature, ContentType: u.ContentType, CreatedBy: s.p.ActorName()})
	return out, artifactError(err)
}

// Artifact returns the artifact name; operators only.
func (s Scope) Artifact(name string) (Artifact, error) {
	a, err := s.artifacts()
	if err != nil {
		return Artifact{}, err
	}
	out, err := a.Get(name)
	return out, artifactError(err)
}

// Artifacts lists the artifacts, sorted by name; operators only.
func (s Scope) Artifacts() ([]Artifact, error) {
	a, err := s.artifacts()
	if err != nil {
		return nil, err
	}
	return a.List()
}

// DeleteArtifact deletes the artifact name; links to it stop working.
// Operators only.
func (s Scope) DeleteArtifact(name string) error {
	a, err := s.artifacts()
	if err != nil {
		return err
	}
	return artifactError(a.Delete(name))
}

// ArtifactLink makes a signed download link of the artifact name that
// works for ttl (DefaultArtifactLinkTTL when zero), for an operator to
// try what devices will get. Operators only.
func (s Scope) ArtifactLink(name string, ttl time.Duration) (ArtifactLink, error) {
	a, err := s.artifacts()
	if err != nil {
		return ArtifactLink{}, err
	}
	if ttl == 0 {
		ttl = DefaultArtifactLinkTTL
	}
	l, err := a.SignedLink(name, ttl)
	return l, artifactError(err)
}
