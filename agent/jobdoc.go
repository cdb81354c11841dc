package agent

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hearthiot/hearth/protocol"
)

// Operations of the jobs the agent takes: the jobDocument's "operation".
const (
	OpUpdateAgent = "update-agent" // replace the agent's own binary
	OpModbusMap   = "modbus-map"   // replace the register map
)

// Limits of what the agent reads from a job.
const (
	// maxJobMessage bounds a message on the jobs topics: a document with
	// an inline register map of the largest size, and its envelope.
	maxJobMessage = maxMapBytes + 64<<10
	// maxMapBytes bounds a register map from a job, inline or downloaded:
	// the Modbus package's own bound on a map file.
	maxMapBytes = 1 << 20
	// maxDetail bounds a statusDetails value: AWS IoT takes up to 1,024
	// characters.
	maxDetail = 1000
	// maxVersion bounds the version an update names.
	maxVersion = 64
)

// UpdateDocument is the jobDocument of an update-agent job.
type UpdateDocument struct {
	Version   string // what the new binary's --version prints
	URL       string // https, a signed link Hearth serves
	SHA256    []byte // of the file, 32 bytes
	Size      int64  // of the file; 0 when the document does not say
	Signature []byte // Ed25519 over the file's bytes; nil when unsigned
}

// MapDocument is the jobDocument of a modbus-map job: the register map
// inline, or a URL to download it from and its SHA-256.
type MapDocument struct {
	Map    json.RawMessage // what the configuration's modbus section holds, as JSON
	URL    string
	SHA256 []byte
}

// jobOperation reads a job document's operation. A document that is no
// JSON object, or names no operation, is an error saying so.
func jobOperation(doc []byte) (string, error) {
	var d struct {
		Operation *string `json:"operation"`
	}
	if err := decodeJobDoc(doc, &d); err != nil {
		return "", err
	}
	if d.Operation == nil || *d.Operation == "" {
		return "", errors.New(`the job document names no "operation"; this agent takes update-agent and modbus-map`)
	}
	return *d.Operation, nil
}

// ParseUpdateDocument reads an update-agent document: version, url and
// sha256 are required, size and signature optional. Other keys (a
// description, a release note) are left alone.
func ParseUpdateDocument(doc []byte) (UpdateDocument, error) {
	var d struct {
		Operation string          `json:"operation"`
		Version   string          `json:"version"`
		URL       string          `json:"url"`
		SHA256    string          `json:"sha256"`
		Size      json.RawMessage `json:"size"`
		Signature string          `json:"signature"`
	}
	if err := decodeJobDoc(doc, &d); err != nil {
		return UpdateDocument{}, err
	}
	if d.Operation != OpUpdateAgent {
		return UpdateDocument{}, fmt.Errorf("operation %q is not %s", clipString(d.Operation, 40), OpUpdateAgent)
	}
	var out UpdateDocument
	switch {
	case d.Version == "":
		return out, errors.New(`"version" is missing; give the version the new binary's --version prints`)
	case len(d.Version) > maxVersion || !printable(d.Version):
		return out, fmt.Errorf(`"version" %q is not a version: at most %d printable characters`, clipString(d.Version, 40), maxVersion)
	}
	out.Version = d.Version
	u, err := downloadURL(d.URL)
	if err != nil {
		return out, err
	}
	out.URL = u
	if out.SHA256, err = parseSHA256(d.SHA256); err != nil {
		return out, err
	}
	if len(d.Size) > 0 {
		if out.Size, err = parseSize(d.Size); err != nil {
			return out, err
		}
	}
	if d.Signature != "" {
		sig, err := base64.StdEncoding.DecodeString(d.Signature)
		if err != nil || len(sig) != ed25519.SignatureSize {
			return out, fmt.Errorf(`"signature" is not an Ed25519 signature: want %d bytes in base64`, ed25519.SignatureSize)
		}
		out.Signature = sig
	}
	return out, nil
}

// ParseMapDocument reads a modbus-map document: "map" inline, or "url"
// with "sha256".
func ParseMapDocument(doc []byte) (MapDocument, error) {
	var d struct {
		Operation string          `json:"operation"`
		Map       json.RawMessage `json:"map"`
		URL       string          `json:"url"`
		SHA256    string          `json:"sha256"`
	}
	if err := decodeJobDoc(doc, &d); err != nil {
		return MapDocument{}, err
	}
	if d.Operation != OpModbusMap {
		return MapDocument{}, fmt.Errorf("operation %q is not %s", clipString(d.Operation, 40), OpModbusMap)
	}
	var out MapDocument
	switch {
	case len(d.Map) > 0 && d.URL != "":
		return out, errors.New(`both "map" and "url" are given; give the map inline or a url to download it from`)
	case len(d.Map) > 0:
		if d.Map[0] != '{' {
			return out, errors.New(`"map" is not an object; give what the configuration's modbus section holds (source, points)`)
		}
		if len(d.Map) > maxMapBytes {
			return out, fmt.Errorf(`"map" is %d bytes; a register map is at most %d`, len(d.Map), maxMapBytes)
		}
		if d.SHA256 != "" {
			return out, errors.New(`"sha256" goes with "url"; an inline map needs none`)
		}
		out.Map = d.Map
		return out, nil
	case d.URL == "":
		return out, errors.New(`neither "map" nor "url" is given; give the register map inline, or a url and its sha256`)
	}
	u, err := downloadURL(d.URL)
	if err != nil {
		return out, err
	}
	out.URL = u
	if out.SHA256, err = parseSHA256(d.SHA256); err != nil {
		return out, err
	}
	return out, nil
}

// decodeJobDoc decodes one JSON object.
func decodeJobDoc(doc []byte, v any) error {
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 || doc[0] != '{' {
		return errors.New("the job document is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("cannot parse the job document: %w", err)
	}
	if dec.More() {
		return errors.New("cannot parse the job document: text after the object")
	}
	return nil
}

func downloadURL(s string) (string, error) {
	if s == "" {
		return "", errors.New(`"url" is missing; give the https link to download from`)
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf(`"url" %q is not an absolute URL`, clipString(s, 80))
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf(`"url" is %s; only https links are downloaded`, clipString(u.Scheme, 10))
	}
	return s, nil
}

func parseSHA256(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New(`"sha256" is missing; give the file's SHA-256 in hex`)
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf(`"sha256" %q is not a SHA-256: want 64 hex digits`, clipString(s, 80))
	}
	return b, nil
}

// parseSize reads "size" as a number or a string of digits (what a
// ${hearth:artifact-size:…} placeholder inside a string becomes).
func parseSize(raw json.RawMessage) (int64, error) {
	s := string(raw)
	if uq, err := strconv.Unquote(s); err == nil && raw[0] == '"' {
		s = uq
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf(`"size" %s is not a positive whole number of bytes`, clipString(string(raw), 40))
	}
	return n, nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// detail makes s a statusDetails value Hearth and AWS IoT take: printable,
// one line, at most maxDetail bytes, cut at a character boundary.
func detail(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), "; ")
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) <= maxDetail {
		return s
	}
	const more = "…"
	cut := maxDetail - len(more)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}

// parseJobsError reads a …/rejected message.
func parseJobsError(b []byte) (protocol.JobsError, error) {
	var e protocol.JobsError
	if err := decodeJobDoc(b, &e); err != nil {
		return e, fmt.Errorf("jobs rejection: %w", err)
	}
	if e.Code == "" {
		return e, errors.New("jobs rejection: no code")
	}
	return e, nil
}
