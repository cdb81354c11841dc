package tsdb

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
)

// vmLogWriter receives VictoriaMetrics' formatted log lines
// ("level\tfile:line\tmessage\n", timestamps switched off in setFlags) and
// passes them to Hearth's logger, so its warnings and errors land in the
// same structured log as everything else instead of raw text on stderr.
type vmLogWriter struct {
	logger *slog.Logger
}

func (w *vmLogWriter) Write(p []byte) (int, error) {
	n := len(p)
	line := bytes.TrimRight(p, "\n")
	level, caller, text := slog.LevelError, "", line
	if lvl, rest, ok := bytes.Cut(line, []byte{'\t'}); ok {
		if c, t, ok := bytes.Cut(rest, []byte{'\t'}); ok {
			caller, text = trimModulePath(string(c)), t
			switch string(lvl) {
			case "info":
				level = slog.LevelInfo
			case "warn":
				level = slog.LevelWarn
			}
		}
	}
	w.logger.Log(context.Background(), level, "storage engine message", "caller", caller, "text", string(text))
	return n, nil
}

// trimModulePath shortens a caller in the module cache
// (".../victoria!metrics@v1.150.0/lib/fs/fs.go:288") to its path inside the
// module ("lib/fs/fs.go:288").
func trimModulePath(caller string) string {
	if i := strings.LastIndexByte(caller, '@'); i >= 0 {
		if j := strings.IndexByte(caller[i:], '/'); j >= 0 {
			return caller[i+j+1:]
		}
	}
	return caller
}
