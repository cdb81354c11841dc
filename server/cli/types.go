package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
)

// maxTypeFile bounds a device type file; the API takes 64 KiB bodies.
const maxTypeFile = 64 << 10

func runDeviceType(ctx context.Context, cio IO, args []string) error {
	var af adminFlags
	fs := newFlagSet("device-type", cio)
	af.bind(fs)
	file := fs.String("file", "", `JSON file {"description": …, "settings": [...]}, "-" for standard input (put)`)
	verb, pos, err := parseAdmin(fs, cio, args, "put", "list", "show", "delete")
	if err != nil {
		return err
	}
	c, err := af.open(cio)
	if err != nil {
		return err
	}
	defer c.close()
	switch verb {
	case "put":
		if len(pos) != 1 || *file == "" {
			return fmt.Errorf("%w: device-type put NAME --file FILE.json", errUsage)
		}
		body, err := readTypeFile(*file, cio.Stdin)
		if err != nil {
			return err
		}
		var out map[string]any
		if err := c.call(ctx, "PUT", "/api/v1/device-types/"+url.PathEscape(pos[0]), body, &out); err != nil {
			return err
		}
		if af.json {
			return printJSON(cio.Stdout, out)
		}
		n := 0
		if s, ok := out["settings"].([]any); ok {
			n = len(s)
		}
		fmt.Fprintf(cio.Stdout, "device type %s stored with %d settings\n", pos[0], n)
	case "list":
		var out struct {
			DeviceTypes []struct {
				Name        string            `json:"name"`
				Description string            `json:"description"`
				Settings    []json.RawMessage `json:"settings"`
			} `json:"device_types"`
		}
		if err := c.call(ctx, "GET", "/api/v1/device-types", nil, &out); err != nil {
			return err
		}
		if af.json {
			return printJSON(cio.Stdout, out.DeviceTypes)
		}
		tw := tabwriter.NewWriter(cio.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSETTINGS\tDESCRIPTION")
		for _, t := range out.DeviceTypes {
			fmt.Fprintf(tw, "%s\t%d\t%s\n", t.Name, len(t.Settings), t.Description)
		}
		return tw.Flush()
	case "show":
		if len(pos) != 1 {
			return fmt.Errorf("%w: device-type show NAME", errUsage)
		}
		var out map[string]any
		if err := c.call(ctx, "GET", "/api/v1/device-types/"+url.PathEscape(pos[0]), nil, &out); err != nil {
			return err
		}
		return printJSON(cio.Stdout, out)
	case "delete":
		if len(pos) != 1 {
			return fmt.Errorf("%w: device-type delete NAME", errUsage)
		}
		if err := c.call(ctx, "DELETE", "/api/v1/device-types/"+url.PathEscape(pos[0]), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(cio.Stdout, "device type %s deleted\n", pos[0])
	}
	return nil
}

// readTypeFile reads a device type's JSON from a file or, for "-", from
// stdin; the API says what is wrong with its content.
func readTypeFile(path string, stdin io.Reader) (json.RawMessage, error) {
	var r io.Reader
	if path == "-" {
		if stdin == nil {
			return nil, fmt.Errorf("%w: --file - needs standard input", errUsage)
		}
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read device type: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxTypeFile+1))
	if err != nil {
		return nil, fmt.Errorf("read device type %s: %w", path, err)
	}
	if len(data) > maxTypeFile {
		return nil, fmt.Errorf("device type file %s is larger than %d bytes", path, maxTypeFile)
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("device type file %s is not JSON", path)
	}
	if strings.TrimSpace(string(data)) == "" {
		return nil, fmt.Errorf("device type file %s is empty", path)
	}
	return data, nil
}
