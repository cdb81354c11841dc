package device

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/store"
)

// builtinFiles are the device types Hearth ships, one file a type named
// after it, each the body PUT /api/v1/device-types/{name} takes: an
// operator can put one back from its file.
//
//go:embed builtin/*.json
var builtinFiles embed.FS

// BuiltinTypes returns the device types Hearth ships for the equipment it
// is made for, sorted by name: absorption chiller-heaters (chiller),
// boilers, air handling units (ahu), indoor air-quality sensors (iaq),
// electricity and gas meters. Their settings and allowed values are
// labelled in English and Japanese.
func BuiltinTypes() ([]store.DeviceType, error) {
	names, err := fs.Glob(builtinFiles, "builtin/*.json")
	if err != nil {
		return nil, fmt.Errorf("list built-in device types: %w", err)
	}
	out := make([]store.DeviceType, 0, len(names))
	for _, name := range names {
		b, err := builtinFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read built-in device type %s: %w", name, err)
		}
		dt, err := parseBuiltin(strings.TrimSuffix(path.Base(name), ".json"), b)
		if err != nil {
			return nil, err
		}
		out = append(out, dt)
	}
	return out, nil
}

// parseBuiltin reads a built-in type's file strictly, so that a misspelt
// field fails the tests rather than vanishing.
func parseBuiltin(name string, b []byte) (store.DeviceType, error) {
	var body struct {
		Description string          `json:"description"`
		Settings    []store.Setting `json:"settings"`
		Metrics     []store.Metric  `json:"metrics"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return store.DeviceType{}, fmt.Errorf("cannot parse built-in device type %q: %w", name, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return store.DeviceType{}, fmt.Errorf("cannot parse built-in device type %q: data after the JSON object", name)
	}
	return store.DeviceType{Name: name, Description: body.Description, Settings: body.Settings, Metrics: body.Metrics}, nil
}

// SeedBuiltin creates the built-in device types this store was never
// offered (store.SeedDeviceTypes): on the first start every one, after an
// upgrade the ones the new release adds. A type offered before is never
// created again, so an operator's edits stay and a type the operator
// deleted stays deleted. It returns the names it created.
func (t *DeviceTypes) SeedBuiltin() ([]string, error) {
	types, err := BuiltinTypes()
	if err != nil {
		return nil, err
	}
	for _, dt := range types {
		if _, err := settings.Compile(dt); err != nil {
			return nil, fmt.Errorf("built-in device type %q: %w", dt.Name, err)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	created, err := t.st.SeedDeviceTypes(types)
	if err != nil {
		return nil, err
	}
	// A type created here may have been remembered as undefined.
	for _, name := range created {
		delete(t.cache, name)
	}
	return created, nil
}
