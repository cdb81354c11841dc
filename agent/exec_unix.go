//go:build unix

package agent

import (
	"fmt"
	"syscall"
)

// execProcess replaces the process with the program at path: the same
// process id, so a service manager sees the agent go on running.
func execProcess(path string, argv, env []string) error {
	if err := syscall.Exec(path, argv, env); err != nil {
		return fmt.Errorf("restart as %s: %w", path, err)
	}
	return nil
}
