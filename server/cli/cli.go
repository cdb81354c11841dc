package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Version is the build's version, set by the linker:
// -ldflags "-X github.com/hearthiot/hearth/server/cli.Version=v1.2.3".
var Version = "dev"

// IO is where a command reads and writes. Tests replace it.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// errUsage marks an error whose message is a usage problem; Main exits 2.
var errUsage = errors.New("usage")

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, io IO, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run Hearth (the default when no command is given)", runServe},
		{"version", "print the version", runVersion},
		{"healthcheck", "exit 0 when the local server is ready, as /readyz answers (for container health checks)", runHealthcheck},
		{"customer", "add or list customers: customer add NAME | customer list", runCustomer},
		{"site", "add or list sites: site add --customer C NAME | site list --customer C", runSite},
		{"device", "add, list, show, rotate, revoke or delete devices", runDevice},
		{"device-type", "define device types and their settings: device-type put NAME --file F | list | show NAME | delete NAME", runDeviceType},
		{"token", "create, list or delete API tokens: token create --role operator|customer", runToken},
		{"user", "add, list, reset-password, disable, enable or delete users: user add EMAIL --role operator|customer", runUser},
		{"backup", "write a backup archive of everything while Hearth runs, or not: backup --to FILE | backup verify FILE", runBackup},
		{"restore", "restore a backup archive into an empty data directory: restore --from FILE --data DIR", runRestore},
		{"simulate", "run simulated devices against Hearth; simulate modbus: a Modbus device; simulate load: the load generator", runSimulate},
		{"agent", "run the gateway agent: poll Modbus equipment and connect it to Hearth (--config FILE)", runAgent},
	}
}

// Main runs the command line and returns the process exit code.
func Main(args []string, io IO) int {
	if io.Getenv == nil {
		io.Getenv = os.Getenv
	}
	if len(args) > 0 {
		switch args[0] {
		case "help", "-h", "-help", "--help":
			// "hearth help COMMAND" is "hearth COMMAND --help".
			if len(args) > 1 && lookup(args[1]) != nil {
				return Main([]string{args[1], "--help"}, io)
			}
			usage(io.Stdout)
			return 0
		}
	}
	name, rest := "serve", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, rest = args[0], args[1:]
	}
	cmd := lookup(name)
	if cmd == nil {
		fmt.Fprintf(io.Stderr, "hearth: unknown command %q\n\n", name)
		usage(io.Stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.run(ctx, io, rest)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(io.Stderr, "hearth %s: %v\n", name, err)
		return 2
	default:
		fmt.Fprintf(io.Stderr, "hearth %s: %v\n", name, err)
		return 1
	}
}

// lookup finds a command by name; nil when there is none.
func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return &c
		}
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Hearth %s: a self-hosted IoT platform for energy services.\n\nUsage: hearth [command] [flags]\n\nCommands:\n", Version)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'hearth COMMAND --help' (or 'hearth help COMMAND') for a command's flags. Every\nflag can also be set as a HEARTH_* environment variable (--mqtt-plain is\nHEARTH_MQTT_PLAIN); the flag wins.\n")
}

// newFlagSet returns a FlagSet that reports errors instead of exiting, so
// Main decides the exit code.
func newFlagSet(name string, io IO) *flag.FlagSet {
	fs := flag.NewFlagSet("hearth "+name, flag.ContinueOnError)
	fs.SetOutput(io.Stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: hearth %s [arguments] [flags]\n", name)
		if c := lookup(name); c != nil {
			fmt.Fprintf(w, "\n%s\n", c.summary)
		}
		fmt.Fprintf(w, "\nFlags (each also a HEARTH_* environment variable):\n")
		fs.PrintDefaults()
	}
	return fs
}

// parse applies HEARTH_* environment variables to flags, then the command
// line over them, so a flag given on the command line wins.
func parse(fs *flag.FlagSet, args []string, io IO) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		key := EnvName(f.Name)
		if v := io.Getenv(key); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("environment variable %s=%q: %w", key, v, err))
			}
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", errUsage, errors.Join(errs...))
	}
	// Help asked for is an answer, on standard output; help after a
	// mistake goes with the error to standard error.
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(io.Stdout)
		}
		if a == "--" {
			break
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return nil
}

// EnvName is the environment variable that sets flag name.
func EnvName(name string) string {
	return "HEARTH_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// newLogger builds the one logger of the process.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: log level %q: use debug, info, warn or error", errUsage, level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("%w: log format %q: use text or json", errUsage, format)
	}
}

// listFlag is a comma-separated list flag; repeating it appends.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// mapFlag collects key=value pairs.
type mapFlag map[string]string

func (m mapFlag) String() string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

func (m mapFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", v)
	}
	m[k] = val
	return nil
}
