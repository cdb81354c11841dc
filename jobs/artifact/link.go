package artifact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hearthiot/hearth/store"
)

// Bounds of a link's lifetime. AWS IoT Jobs allows 60 s to 1 h for its
// pre-signed URLs; an operator testing a download may want longer, so
// Hearth allows up to a week, as S3 does.
const (
	MinLinkTTL = time.Second
	MaxLinkTTL = 7 * 24 * time.Hour
)

// PathPrefix is where download links live on the HTTPS server.
const PathPrefix = "/artifacts/"

// linkVersion starts the text an HMAC signs, so that a later form of link
// cannot be mistaken for this one.
const linkVersion = "hearth-artifact-link-v1"

// Link is a signed download link and when it stops working: it is
// refused from ExpiresAt on.
type Link struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// SignedURL is SignedLink's URL: an absolute URL under the base URL that
// downloads the artifact name for ttl, without any other credential, like
// a pre-signed S3 URL. It names the content, not only the name: once the
// artifact is replaced or deleted, the link answers 404.
func (s *Store) SignedURL(name string, ttl time.Duration) (string, error) {
	l, err := s.SignedLink(name, ttl)
	return l.URL, err
}

// SignedLink makes a download link of the artifact name that works for
// ttl (MinLinkTTL to MaxLinkTTL) from now, until ExpiresAt: the end
// rounded up to a whole second, as the link names it.
func (s *Store) SignedLink(name string, ttl time.Duration) (Link, error) {
	if ttl < MinLinkTTL || ttl > MaxLinkTTL {
		return Link{}, fmt.Errorf("link lifetime %s: %s to %s are accepted: %w", ttl, MinLinkTTL, MaxLinkTTL, ErrInvalid)
	}
	base := s.base.Load()
	if base == nil {
		return Link{}, errors.New("no download link can be made: the server has not said how devices reach it (base URL)")
	}
	a, err := s.Get(name)
	if err != nil {
		return Link{}, err
	}
	// Rounded up to the second: the link works at least ttl.
	end := s.now().Add(ttl)
	expires := end.Unix()
	if end.After(time.Unix(expires, 0)) {
		expires++
	}
	path := linkPath(a.SHA256, a.Name)
	q := "expires=" + strconv.FormatInt(expires, 10) + "&signature=" + hex.EncodeToString(s.sign(path, expires))
	return Link{URL: *base + path + "?" + q, ExpiresAt: time.Unix(expires, 0).UTC()}, nil
}

// linkPath is the path of a download link.
func linkPath(sum, name string) string { return PathPrefix + sum + "/" + name }

// sign is the HMAC-SHA256 of a link's path and expiry.
func (s *Store) sign(path string, expires int64) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(linkVersion + "\n" + path + "\n" + strconv.FormatInt(expires, 10)))
	return m.Sum(nil)
}

// link is what a download request names.
type link struct {
	sum, name string
	expires   int64
	signature []byte
}

func (l link) path() string { return linkPath(l.sum, l.name) }

// maxExpiresDigits bounds the expiry's digits: any Unix time in seconds
// an int64 holds.
const maxExpiresDigits = 18

// parseLink reads a download request: its path as decoded (path), as
// sent when that differs (rawPath, url.URL.RawPath) and its query. An
// error says what is wrong with it, for a 403; the signature is checked
// by the caller.
func parseLink(path, rawPath, rawQuery string) (link, error) {
	if rawPath != "" {
		return link{}, errors.New("the path has escaped characters; a download link has none")
	}
	rest, ok := strings.CutPrefix(path, PathPrefix)
	if !ok {
		return link{}, fmt.Errorf("the path does not begin with %s", PathPrefix)
	}
	sum, name, ok := strings.Cut(rest, "/")
	if !ok {
		return link{}, errors.New("the path is not /artifacts/SHA256/NAME")
	}
	if !validSum(sum) {
		return link{}, errors.New("the path's SHA-256 is not 64 lower-case hexadecimal digits")
	}
	if err := store.CheckArtifactName(name); err != nil {
		return link{}, fmt.Errorf("the path does not end with an artifact's name: %v", strings.TrimSuffix(err.Error(), ": "+store.ErrInvalid.Error()))
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return link{}, fmt.Errorf("the query cannot be read: %v", err)
	}
	for k, vs := range q {
		if k != "expires" && k != "signature" {
			return link{}, fmt.Errorf("the query has %q; a download link has only expires and signature", k)
		}
		if len(vs) != 1 {
			return link{}, fmt.Errorf("the query has %s %d times", k, len(vs))
		}
	}
	exp, sig := q.Get("expires"), q.Get("signature")
	if exp == "" || sig == "" {
		return link{}, errors.New("the query lacks expires or signature")
	}
	if len(exp) > maxExpiresDigits || strings.Trim(exp, "0123456789") != "" {
		return link{}, errors.New("expires is not a Unix time in seconds")
	}
	expires, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return link{}, errors.New("expires is not a Unix time in seconds")
	}
	if len(sig) != 2*sha256.Size || strings.ToLower(sig) != sig {
		return link{}, errors.New("signature is not 64 lower-case hexadecimal digits")
	}
	mac, err := hex.DecodeString(sig)
	if err != nil {
		return link{}, errors.New("signature is not 64 lower-case hexadecimal digits")
	}
	return link{sum: sum, name: name, expires: expires, signature: mac}, nil
}

// check reads and verifies a download request: the link, or why it is
// refused (403), with expired true when only its time is up.
func (s *Store) check(path, rawPath, rawQuery string) (l link, expired bool, err error) {
	l, err = parseLink(path, rawPath, rawQuery)
	if err != nil {
		return link{}, false, err
	}
	if !hmac.Equal(s.sign(l.path(), l.expires), l.signature) {
		return link{}, false, errors.New("the signature does not match the link: it was changed, or not made by this Hearth")
	}
	if !s.now().Before(time.Unix(l.expires, 0)) {
		return l, true, fmt.Errorf("the link expired at %s; ask for a new one", time.Unix(l.expires, 0).UTC().Format(time.RFC3339))
	}
	return l, false, nil
}
