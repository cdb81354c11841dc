package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

func runCustomer(ctx context.Context, io IO, args []string) error {
	var af adminFlags
	fs := newFlagSet("customer", io)
	af.bind(fs)
	display := fs.String("display-name", "", "name shown on pages (add)")
	verb, pos, err := parseAdmin(fs, io, args, "add", "list")
	if err != nil {
		return err
	}
	c, err := af.open(io)
	if err != nil {
		return err
	}
	defer c.close()
	switch verb {
	case "add":
		if len(pos) != 1 {
			return fmt.Errorf("%w: customer add NAME [--display-name TEXT]", errUsage)
		}
		var out map[string]any
		if err := c.call(ctx, "POST", "/api/v1/customers", map[string]string{"name": pos[0], "display_name": *display}, &out); err != nil {
			return err
		}
		if af.json {
			return printJSON(io.Stdout, out)
		}
		fmt.Fprintf(io.Stdout, "customer %s created, with site %q\n", pos[0], "default")
	case "list":
		var out []struct {
			Name        string    `json:"name"`
			DisplayName string    `json:"display_name"`
			CreatedAt   time.Time `json:"created_at"`
		}
		if err := c.call(ctx, "GET", "/api/v1/customers", nil, &out); err != nil {
			return err
		}
		if af.json {
			return printJSON(io.Stdout, out)
		}
		tw := tabwriter.NewWriter(io.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tDISPLAY NAME\tCREATED")
		for _, cu := range out {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", cu.Name, cu.DisplayName, cu.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	}
	return nil
}

func runSite(ctx context.Context, io IO, args []string) error {
	var af adminFlags
	fs := newFlagSet("site", io)
	af.bind(fs)
	customer := fs.String("customer", "", "customer the site belongs to (required)")
	display := fs.String("display-name", "", "name shown on pages (add)")
	address := fs.String("address", "", "the site's postal address (add)")
	zone := fs.String("time-zone", "", "IANA time zone of the site's pages and charts, e.g. Asia/Tokyo (add)")
	verb, pos, err := parseAdmin(fs, io, args, "add", "list")
	if err != nil {
		return err
	}
	if *customer == "" {
		return fmt.Errorf("%w: --customer is required", errUsage)
	}
	c, err := af.open(io)
	if err != nil {
		return err
	}
	defer c.close()
	path := "/api/v1/customers/" + url.PathEscape(*customer) + "/sites"
	switch verb {
	case "add":
		if len(pos) != 1 {
			return fmt.Errorf("%w: site add --customer C NAME", errUsage)
		}
		var out map[string]any
		body := map[string]string{"name": pos[0], "display_name": *display, "address": *address, "time_zone": *zone}
		if err := c.call(ctx, "POST", path, body, &out); err != nil {
			return err
		}
		if af.json {
			return printJSON(io.Stdout, out)
		}
		fmt.Fprintf(io.Stdout, "site %s/%s created\n", *customer, pos[0])
	case "list":
		var out []struct {
			Name        string `json:"name"`
			DisplayName string `json:"display_name"`
			Address     string `json:"address"`
			TimeZone    string `json:"time_zone"`
		}
		if err := c.call(ctx, "GET", path, nil, &out); err != nil {
			return err
		}
		if af.json {
			return printJSON(io.Stdout, out)
		}
		for _, s := range out {
			if s.TimeZone != "" {
				fmt.Fprintf(io.Stdout, "%s\t%s\n", s.Name, s.TimeZone)
				continue
			}
			fmt.Fprintln(io.Stdout, s.Name)
		}
	}
	return nil
}

// issued is the API's answer when credentials are issued.
type issued struct {
	Device         map[string]any `json:"device"`
	Secret         string         `json:"secret"`
	CertificatePEM string         `json:"certificate_pem"`
	PrivateKeyPEM  string         `json:"private_key_pem"`
	CAPEM          string         `json:"ca_pem"`
}

type deviceJSON struct {
	Name        string            `json:"name"`
	DisplayName string            `json:"display_name,omitempty"`
	Customer    string            `json:"customer"`
	Site        string            `json:"site"`
	Type        string            `json:"type"`
	Attributes  map[string]string `json:"attributes"`
	CreatedAt   time.Time         `json:"created_at"`
	Credentials []struct {
		ID        string     `json:"id"`
		Kind      string     `json:"kind"`
		CreatedAt time.Time  `json:"created_at"`
		RevokedAt *time.Time `json:"revoked_at"`
	} `json:"credentials"`
	Online   *bool      `json:"online"`
	LastSeen *time.Time `json:"last_seen"`
}

func runDevice(ctx context.Context, io IO, args []string) error {
	var af adminFlags
	fs := newFlagSet("device", io)
	af.bind(fs)
	customer := fs.String("customer", "", "customer (add: required; list: filter)")
	site := fs.String("site", "", "site (add: default \"default\"; list: filter)")
	typ := fs.String("type", "", "device type, e.g. chiller or iaq (add)")
	attrs := mapFlag{}
	fs.Var(attrs, "attr", "attribute `KEY=VALUE` (add; repeatable)")
	out := fs.String("out", "", "`directory` for the certificate, key and CA files (add, rotate; default: the device name)")
	credential := fs.String("credential", "", "credential `id` to revoke (revoke; default: all)")
	verb, pos, err := parseAdmin(fs, io, args, "add", "list", "show", "rotate", "revoke", "delete")
	if err != nil {
		return err
	}
	needName := verb != "list"
	if needName && len(pos) != 1 || !needName && len(pos) != 0 {
		return fmt.Errorf("%w: device %s%s", errUsage, verb, map[bool]string{true: " NAME"}[needName])
	}
	if verb == "add" && *customer == "" {
		return fmt.Errorf("%w: --customer is required", errUsage)
	}
	var name, dir string
	if needName {
		name = pos[0]
		dir = *out
		if dir == "" {
			dir = name
		}
	}
	if verb == "add" || verb == "rotate" {
		// Refuse before anything is issued: a secret shown once must not be
		// lost to a file that cannot be written.
		for _, f := range credentialFiles(dir) {
			if _, err := os.Stat(f); err == nil {
				return fmt.Errorf("%s exists: choose another --out directory", f)
			}
		}
	}
	c, err := af.open(io)
	if err != nil {
		return err
	}
	defer c.close()
	devPath := "/api/v1/devices/" + url.PathEscape(name)
	switch verb {
	case "add":
		var res issued
		body := map[string]any{"name": name, "customer": *customer, "site": *site, "type": *typ, "attributes": map[string]string(attrs)}
		if err := c.call(ctx, "POST", "/api/v1/devices", body, &res); err != nil {
			return err
		}
		return printIssued(io, af.json, name, dir, res)
	case "rotate":
		var res issued
		if err := c.call(ctx, "POST", devPath+"/credentials/rotate", map[string]any{}, &res); err != nil {
			return err
		}
		return printIssued(io, af.json, name, dir, res)
	case "revoke":
		var res map[string]any
		if err := c.call(ctx, "POST", devPath+"/credentials/revoke", map[string]string{"credential_id": *credential}, &res); err != nil {
			return err
		}
		if af.json {
			return printJSON(io.Stdout, res)
		}
		fmt.Fprintf(io.Stdout, "credentials of %s revoked; connected sessions using them were dropped\n", name)
	case "delete":
		if err := c.call(ctx, "DELETE", devPath, nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(io.Stdout, "device %s deleted\n", name)
	case "show":
		var d map[string]any
		if err := c.call(ctx, "GET", devPath, nil, &d); err != nil {
			return err
		}
		return printJSON(io.Stdout, d)
	case "list":
		q := url.Values{}
		if *customer != "" {
			q.Set("customer", *customer)
		}
		if *site != "" {
			q.Set("site", *site)
		}
		// The API answers a page at a time; the command lists them all.
		q.Set("limit", "1000")
		list := []deviceJSON{}
		for {
			var page struct {
				Devices []deviceJSON `json:"devices"`
				Next    string       `json:"next"`
			}
			if err := c.call(ctx, "GET", "/api/v1/devices?"+q.Encode(), nil, &page); err != nil {
				return err
			}
			list = append(list, page.Devices...)
			if page.Next == "" || len(page.Devices) == 0 {
				break
			}
			q.Set("cursor", page.Next)
		}
		if af.json {
			return printJSON(io.Stdout, list)
		}
		tw := tabwriter.NewWriter(io.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tCUSTOMER\tSITE\tTYPE\tSTATE\tLAST SEEN\tACTIVE CREDENTIALS\tCREATED")
		for _, d := range list {
			active := 0
			for _, cr := range d.Credentials {
				if cr.RevokedAt == nil {
					active++
				}
			}
			state, seen := "unknown", "never"
			if d.Online != nil {
				state = map[bool]string{true: "online", false: "offline"}[*d.Online]
			}
			if d.LastSeen != nil {
				seen = d.LastSeen.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.Name, d.Customer, d.Site, d.Type, state, seen, active, d.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	}
	return nil
}

// printIssued writes the certificate, key and CA to dir and prints the
// secret, which is shown only this once. Should the files not be written,
// everything is printed instead: the credentials exist only in this answer,
// and after a rotation the old ones no longer work.
func printIssued(io IO, asJSON bool, name, dir string, res issued) error {
	files := credentialFiles(dir)
	if err := writeCredentials(dir, files, res); err != nil {
		fmt.Fprintf(io.Stdout, "device %s: credentials issued but not written (%v); save them now, they are shown only once:\n", name, err)
		fmt.Fprintf(io.Stdout, "secret: %s\n%s%s%s", res.Secret, res.CertificatePEM, res.PrivateKeyPEM, res.CAPEM)
		return fmt.Errorf("write credentials to %s: %w", dir, err)
	}
	if asJSON {
		return printJSON(io.Stdout, map[string]any{"device": res.Device, "secret": res.Secret, "certificate_file": files[0], "private_key_file": files[1], "ca_file": files[2]})
	}
	fmt.Fprintf(io.Stdout, "device %s: credentials issued\n", name)
	fmt.Fprintf(io.Stdout, "  certificate: %s\n  private key: %s\n  CA:          %s\n", files[0], files[1], files[2])
	fmt.Fprintf(io.Stdout, "  MQTT username %q with this secret (shown only once):\n%s\n", name, res.Secret)
	return nil
}

func writeCredentials(dir string, files [3]string, res issued) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for i, data := range []string{res.CertificatePEM, res.PrivateKeyPEM, res.CAPEM} {
		perm := os.FileMode(0o644)
		if i == 1 {
			perm = 0o600
		}
		if err := writeNewFile(files[i], []byte(data), perm); err != nil {
			return err
		}
	}
	return nil
}

func runToken(ctx context.Context, io IO, args []string) error {
	var af adminFlags
	fs := newFlagSet("token", io)
	af.bind(fs)
	role := fs.String("role", "", "operator or customer (create)")
	access := fs.String("access", "", "operators: admin (default) or operator; customers: admin, editor (default) or viewer (create)")
	customer := fs.String("customer", "", "customer the token is limited to (create, role customer)")
	name := fs.String("name", "", "what the token is for, e.g. grafana; unique per customer (create, required)")
	verb, pos, err := parseAdmin(fs, io, args, "create", "list", "delete")
	if err != nil {
		return err
	}
	c, err := af.open(io)
	if err != nil {
		return err
	}
	defer c.close()
	switch verb {
	case "create":
		if len(pos) != 0 || *role == "" || *name == "" {
			return fmt.Errorf("%w: token create --role operator|customer --name N [--customer C] [--access LEVEL]", errUsage)
		}
		if err := checkAccessFlag(*role, *access); err != nil {
			return err
		}
		var res struct {
			ID    string `json:"id"`
			Token string `json:"token"`
		}
		body := map[string]string{"role": *role, "access": *access, "customer": *customer, "name": *name}
		if err := c.call(ctx, "POST", "/api/v1/tokens", body, &res); err != nil {
			return err
		}
		fmt.Fprintf(io.Stderr, "token %s created; it is shown only once:\n", res.ID)
		fmt.Fprintln(io.Stdout, res.Token)
	case "list":
		var list []map[string]any
		if err := c.call(ctx, "GET", "/api/v1/tokens", nil, &list); err != nil {
			return err
		}
		return printJSON(io.Stdout, list)
	case "delete":
		if len(pos) != 1 {
			return fmt.Errorf("%w: token delete ID", errUsage)
		}
		if err := c.call(ctx, "DELETE", "/api/v1/tokens/"+url.PathEscape(pos[0]), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(io.Stdout, "token %s deleted\n", pos[0])
	}
	return nil
}

func runUser(ctx context.Context, io IO, args []string) error {
	var af adminFlags
	fs := newFlagSet("user", io)
	af.bind(fs)
	role := fs.String("role", "", "operator or customer (add)")
	access := fs.String("access", "", "operators: admin (default) or operator; customers: admin, editor (default) or viewer (add)")
	customer := fs.String("customer", "", "customer of a customer user (add)")
	stdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (add); otherwise one is generated and printed")
	verb, pos, err := parseAdmin(fs, io, args, "add", "list", "reset-password", "disable", "enable", "delete")
	if err != nil {
		return err
	}
	if verb == "add" && (len(pos) != 1 || *role == "") {
		return fmt.Errorf("%w: user add EMAIL --role operator|customer [--customer C] [--password-stdin]", errUsage)
	}
	if verb != "add" && verb != "list" && len(pos) != 1 {
		return fmt.Errorf("%w: user %s EMAIL", errUsage, verb)
	}
	var password string
	if *stdin {
		if password, err = readSecretLine(io.Stdin); err != nil {
			return fmt.Errorf("read password: %w", err)
		}
		if password == "" {
			return fmt.Errorf("%w: the password read from standard input is empty", errUsage)
		}
	}
	c, err := af.open(io)
	if err != nil {
		return err
	}
	defer c.close()
	switch verb {
	case "add":
		var res struct {
			Email    string `json:"email"`
			Password string `json:"password"`
		}
		body := map[string]string{"email": pos[0], "role": *role, "access": *access, "customer": *customer, "password": password}
		if err := c.call(ctx, "POST", "/api/v1/users", body, &res); err != nil {
			return err
		}
		fmt.Fprintf(io.Stdout, "user %s created\n", res.Email)
		if res.Password != "" {
			fmt.Fprintf(io.Stdout, "one-time password (shown only once): %s\n", res.Password)
		}
	case "list":
		var list []map[string]any
		if err := c.call(ctx, "GET", "/api/v1/users", nil, &list); err != nil {
			return err
		}
		if af.json {
			return printJSON(io.Stdout, list)
		}
		for _, u := range list {
			customer, _ := u["customer"].(string)
			state := "enabled"
			if d, _ := u["disabled"].(bool); d {
				state = "disabled"
			}
			fmt.Fprintf(io.Stdout, "%v\t%v\t%v\t%s\t%s\n", u["email"], u["role"], u["access"], customer, state)
		}
	case "reset-password":
		var res struct {
			Password string `json:"password"`
		}
		if err := c.call(ctx, "POST", "/api/v1/users/"+url.PathEscape(pos[0])+"/reset-password", nil, &res); err != nil {
			return err
		}
		fmt.Fprintf(io.Stderr, "user %s must choose a new password at the next sign-in; the one-time password is shown only once:\n", pos[0])
		fmt.Fprintln(io.Stdout, res.Password)
	case "disable", "enable":
		body := map[string]bool{"disabled": verb == "disable"}
		if err := c.call(ctx, "PATCH", "/api/v1/users/"+url.PathEscape(pos[0]), body, nil); err != nil {
			return err
		}
		fmt.Fprintf(io.Stdout, "user %s %sd\n", pos[0], verb)
	case "delete":
		if err := c.call(ctx, "DELETE", "/api/v1/users/"+url.PathEscape(pos[0]), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(io.Stdout, "user %s deleted\n", pos[0])
	}
	return nil
}

// checkAccessFlag refuses an --access level the role does not have before
// anything is sent.
func checkAccessFlag(role, access string) error {
	levels := map[string][]string{"operator": {"admin", "operator"}, "customer": {"admin", "editor", "viewer"}}[role]
	if access == "" || slices.Contains(levels, access) {
		return nil
	}
	if levels == nil {
		return fmt.Errorf("%w: --role %q: operator or customer", errUsage, role)
	}
	return fmt.Errorf("%w: --access %q for --role %s: %s", errUsage, access, role, strings.Join(levels, ", "))
}
