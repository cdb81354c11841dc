//go:build !unix

package agent

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir opens dir's lock file. Outside Unix nothing keeps a second agent
// away; the agent is built to run on Linux gateways.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	return f, nil
}
