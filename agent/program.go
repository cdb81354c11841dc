package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/hearthiot/hearth/internal/atomicfile"
	"github.com/hearthiot/hearth/protocol/program"
)

// programFile is where the operating program is kept, in the spool
// directory, so that it survives a restart of the agent or the gateway.
const programFile = "program.json"

// maxProgramFile bounds the file; a program of the most steps Hearth
// allows is a few KiB.
const maxProgramFile = 256 << 10

// savedProgram is the program file: the program as desired held it, and
// the last time its steps were applied up to.
type savedProgram struct {
	Program json.RawMessage `json:"program"`
	Applied int64           `json:"applied_ms"`
}

// localProgram is the program the agent follows.
type localProgram struct {
	prog    program.Program
	raw     any       // as desired held it, reported back as is
	applied time.Time // steps up to this time have been applied
}

// ParseProgramFile reads the program file's contents.
func ParseProgramFile(b []byte) (program.Program, any, time.Time, error) {
	if len(b) > maxProgramFile {
		return program.Program{}, nil, time.Time{}, fmt.Errorf("program file is %d bytes; at most %d are read", len(b), maxProgramFile)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var sp savedProgram
	if err := dec.Decode(&sp); err != nil {
		return program.Program{}, nil, time.Time{}, fmt.Errorf("cannot parse program file: %w", err)
	}
	if dec.More() {
		return program.Program{}, nil, time.Time{}, errors.New("cannot parse program file: text after the object")
	}
	p, err := program.Parse(sp.Program)
	if err != nil {
		return program.Program{}, nil, time.Time{}, err
	}
	var raw any
	if err := json.Unmarshal(sp.Program, &raw); err != nil {
		return program.Program{}, nil, time.Time{}, fmt.Errorf("cannot parse program file: %w", err)
	}
	return p, raw, time.UnixMilli(sp.Applied), nil
}

// loadProgram reads the program file in dir; no file is no program.
func loadProgram(dir string) (*localProgram, error) {
	b, err := os.ReadFile(filepath.Join(dir, programFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read program: %w", err)
	}
	p, raw, applied, err := ParseProgramFile(b)
	if err != nil {
		return nil, fmt.Errorf("read program %s: %w", filepath.Join(dir, programFile), err)
	}
	return &localProgram{prog: p, raw: raw, applied: applied}, nil
}

// saveProgram replaces the program file atomically; nil removes it.
func saveProgram(dir string, lp *localProgram) error {
	path := filepath.Join(dir, programFile)
	if lp == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove program: %w", err)
		}
		return atomicfile.SyncDir(dir)
	}
	raw, err := json.Marshal(lp.raw)
	if err != nil {
		return fmt.Errorf("save program: %w", err)
	}
	b, err := json.Marshal(savedProgram{Program: raw, Applied: lp.applied.UnixMilli()})
	if err != nil {
		return fmt.Errorf("save program: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, programFile), b, 0o600); err != nil {
		return fmt.Errorf("save program: %w", err)
	}
	return nil
}

// maxCatchUpSteps bounds the steps dueSettings walks through; past it the
// agent was off so long that the program's settings of now are what count.
const maxCatchUpSteps = 7 * program.MaxSteps

// dueSettings is what the steps that began after after and up to now set,
// the later step winning for a key, and whether any step began then.
func dueSettings(p program.Program, after, now time.Time) (map[string]any, bool) {
	out := map[string]any{}
	t, found := after, false
	for range maxCatchUpSteps {
		next, ok := p.Next(t)
		if !ok || next.After(now) {
			return out, found
		}
		if step, ok := p.Active(next); ok {
			maps.Copy(out, step.Set)
			found = true
		}
		t = next
	}
	return p.Settings(now), true
}
