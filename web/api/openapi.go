package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"

	"go.yaml.in/yaml/v3"
)

// openAPIYAML describes every route under /api/v1: an OpenAPI 3.1
// document that client generators read. Tests hold the router and the
// answers of every handler to it.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIPath is where the document is served as JSON. It is public
// documentation: no token is needed to read it.
const openAPIPath = "/api/v1/openapi.json"

// showOpenAPI: GET /api/v1/openapi.json, the API's OpenAPI document.
func (a *API) showOpenAPI(w http.ResponseWriter, r *http.Request) {
	doc, err := a.openAPI()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeRawJSON(w, http.StatusOK, doc)
}

// yamlToJSON turns a YAML document into JSON, keeping the order of every
// mapping's keys so that the JSON reads like the YAML it came from.
func yamlToJSON(b []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	var buf bytes.Buffer
	if err := appendJSON(&buf, &doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func appendJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("line %d: %d documents, one is accepted", n.Line, len(n.Content))
		}
		return appendJSON(buf, n.Content[0])
	case yaml.AliasNode:
		return appendJSON(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				return fmt.Errorf("line %d: a key must be a plain value", k.Line)
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			key, err := json.Marshal(k.Value)
			if err != nil {
				return fmt.Errorf("line %d: key %q: %w", k.Line, k.Value, err)
			}
			buf.Write(key)
			buf.WriteByte(':')
			if err := appendJSON(buf, v); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, v := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := appendJSON(buf, v); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: value %q: %w", n.Line, n.Value, err)
		}
		buf.Write(b)
	default:
		return fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	return nil
}
