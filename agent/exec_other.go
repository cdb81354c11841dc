//go:build !unix

package agent

import "errors"

// execProcess is not available outside Unix; the agent is built to run on
// Linux gateways.
func execProcess(path string, argv, env []string) error {
	return errors.New("restart as " + path + ": replacing the process needs Unix")
}
