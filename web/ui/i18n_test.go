package ui

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"go.yaml.in/yaml/v3"

	"github.com/hearthiot/hearth/protocol/control"
	"github.com/hearthiot/hearth/store"
)

// catalogueFiles reads every message file as the library parses it:
// language → key → message.
func catalogueFiles(t *testing.T) map[string]map[string]string {
	t.Helper()
	names, err := fs.Glob(messageFiles, "messages/*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("message files: %v %v", names, err)
	}
	out := map[string]map[string]string{}
	for _, name := range names {
		buf, err := fs.ReadFile(messageFiles, name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := i18n.ParseMessageFileBytes(buf, name, map[string]i18n.UnmarshalFunc{"yaml": yaml.Unmarshal})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m := map[string]string{}
		for _, msg := range f.Messages {
			if msg.Other == "" || msg.Zero+msg.One+msg.Two+msg.Few+msg.Many != "" {
				t.Errorf("%s: %s: want one non-empty text, have %+v", name, msg.ID, msg)
			}
			m[msg.ID] = msg.Other
		}
		out[f.Tag.String()] = m
	}
	if _, ok := out[fallback.String()]; !ok {
		t.Fatalf("no file of the fallback language %s", fallback)
	}
	return out
}

// fmtArgs is what a format does with its arguments: each verb with the
// argument it takes, in argument order, so that a translation may take
// them in another order (%[2]d) but not take others.
func fmtArgs(format string) []string {
	verb := regexp.MustCompile(`%(?:\[(\d+)\])?[-+# 0]*[0-9]*(?:\.[0-9]+)?([a-zA-Z%])`)
	var out []string
	next := 1
	for _, m := range verb.FindAllStringSubmatch(format, -1) {
		if m[2] == "%" {
			continue
		}
		if m[1] != "" {
			next, _ = strconv.Atoi(m[1])
		}
		out = append(out, strconv.Itoa(next)+m[2])
		next++
	}
	slices.Sort(out)
	return out
}

// TestCatalogueComplete: every language has every key, none empty, and
// a translation formats the same arguments as the English.
func TestCatalogueComplete(t *testing.T) {
	files := catalogueFiles(t)
	en := files[fallback.String()]
	for l, m := range files {
		for key := range en {
			if m[key] == "" {
				t.Errorf("%s: %s is missing", l, key)
			}
		}
		for key, s := range m {
			e, ok := en[key]
			if !ok {
				t.Errorf("%s: %s is not in English", l, key)
				continue
			}
			if !slices.Equal(fmtArgs(s), fmtArgs(e)) {
				t.Errorf("%s: %s formats %v, English %v: %q / %q", l, key, fmtArgs(s), fmtArgs(e), s, e)
			}
		}
	}
}

// builtKeys are the keys the pages build from a value instead of naming
// them: the prefix as the sources write it ("metric." + name), and every
// value it is completed with.
var builtKeys = []struct {
	prefix string
	values []string
}{
	// An access level a customer's admin gives, on its team pages.
	{"team.access.", teamAccessLevels},
	// A credential's kind, on an operator's device page.
	{"fleet.cred.", []string{store.CredentialSecret, store.CredentialCertificate}},
	// The metrics the pages know (metricLabel); another shows its own name.
	{"metric.", slices.Sorted(maps.Keys(knownMetrics))},
	// The modes a chiller-heater reports, on site cards; another shows as
	// it is.
	{"mode.", []string{"cooling", "heating", "off"}},
	// The energy-saving strategies, their descriptions and what they did.
	{"strategy.name.", control.Names},
	{"strategy.about.", control.Names},
	{"strategy.action.", []string{"resume", "set", "yield"}},
}

// keyRefs are the message keys the package's sources use.
type keyRefs struct {
	// called are the keys written as the argument of t(l, "key") or
	// v.T("key").
	called map[string][]string
	// named are other literals that look like a key of the catalogue:
	// keys handed to a function that passes them to T, or kept in a
	// table (the navigation's links).
	named map[string][]string
	// built are the prefixes of keys built as "prefix." + value.
	built map[string][]string
}

// sourceKeys reads the package's Go files, the templ files' generated Go
// among them (it holds the templates' expressions as written), for the
// keys they use. namespaces are the first parts of the catalogue's keys:
// a literal "fleet.x.y" is a key, "ca.pem" is not.
func sourceKeys(t *testing.T, namespaces map[string]bool) keyRefs {
	t.Helper()
	refs := keyRefs{called: map[string][]string{}, named: map[string][]string{}, built: map[string][]string{}}
	keyLike := regexp.MustCompile(`^([a-z][a-z0-9_]*)(\.[a-z0-9_]+)+$`)
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		// The literals a call or a sum has already read, so that they do
		// not count again as named.
		keyArgs := map[*ast.BasicLit]bool{}
		str := func(e ast.Expr) (*ast.BasicLit, string, bool) {
			lit, ok := e.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return nil, "", false
			}
			s, err := strconv.Unquote(lit.Value)
			return lit, s, err == nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			where := func() string { return fset.Position(n.Pos()).String() }
			switch n := n.(type) {
			case *ast.CallExpr:
				var arg ast.Expr
				switch fn := n.Fun.(type) {
				case *ast.SelectorExpr:
					if fn.Sel.Name == "T" && len(n.Args) > 0 {
						arg = n.Args[0]
					}
					if fn.Sel.Name == "Asset" && len(n.Args) > 0 {
						// A file name ("app.css"), no key.
						if lit, _, ok := str(n.Args[0]); ok {
							keyArgs[lit] = true
						}
					}
				case *ast.Ident:
					if fn.Name == "t" && len(n.Args) > 1 {
						arg = n.Args[1]
					}
				}
				if lit, s, ok := str(arg); ok {
					refs.called[s] = append(refs.called[s], where())
					keyArgs[lit] = true
				}
			case *ast.BinaryExpr:
				if lit, s, ok := str(n.X); ok && n.Op == token.ADD && strings.HasSuffix(s, ".") && namespaces[strings.Split(s, ".")[0]] {
					refs.built[s] = append(refs.built[s], where())
					keyArgs[lit] = true
				}
			case *ast.BasicLit:
				if _, s, ok := str(n); ok && !keyArgs[n] {
					if m := keyLike.FindStringSubmatch(s); m != nil && namespaces[m[1]] {
						refs.named[s] = append(refs.named[s], where())
					}
				}
			}
			return true
		})
	}
	return refs
}

// TestCatalogueKeys: every key the pages use is in the catalogue, and
// every key of the catalogue is used. A key missing from the catalogue
// would show on the page as itself ("sso.customer").
func TestCatalogueKeys(t *testing.T) {
	en := catalogueFiles(t)[fallback.String()]
	namespaces := map[string]bool{}
	for key := range en {
		namespaces[strings.Split(key, ".")[0]] = true
	}
	refs := sourceKeys(t, namespaces)
	if len(refs.called) < 100 {
		t.Fatalf("the sources call for only %d keys: the scan misses the calls", len(refs.called))
	}
	used := map[string]bool{}
	for _, m := range []map[string][]string{refs.called, refs.named} {
		for key, at := range m {
			used[key] = true
			if _, ok := en[key]; !ok {
				t.Errorf("%s: key %q is not in the catalogue", at[0], key)
			}
		}
	}
	declared := map[string]bool{}
	for _, b := range builtKeys {
		declared[b.prefix] = true
		if refs.built[b.prefix] == nil {
			t.Errorf("no source builds keys %q + value any more: drop it from builtKeys", b.prefix)
		}
		for _, v := range b.values {
			used[b.prefix+v] = true
			if _, ok := en[b.prefix+v]; !ok {
				t.Errorf("key %q (built from %q) is not in the catalogue", b.prefix+v, b.prefix)
			}
		}
	}
	for prefix, at := range refs.built {
		if !declared[prefix] {
			t.Errorf("%s: keys built as %q + value: list the values in builtKeys", at[0], prefix)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(en)) {
		if !used[key] {
			t.Errorf("key %q is in the catalogue but no page uses it", key)
		}
	}
}

// translate is the pages' t, which a test's own t hides.
var translate = t

// TestCatalogueLookup: a message comes in the language asked for, else in
// English; arguments are formatted, in the order a translation numbers
// them; a key no file has shows as itself.
func TestCatalogueLookup(t *testing.T) {
	c, err := loadCatalogue(fstest.MapFS{
		"messages/en.yaml": {Data: []byte("a: \"A %s\"\nb: \"B\"\n")},
		"messages/ja.yaml": {Data: []byte("a: \"エー %s\"\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		l, key, want string
		ok           bool
	}{
		{"ja", "a", "エー %s", true},
		{"ja", "b", "B", true},
		{"en", "a", "A %s", true},
		{"fr", "a", "A %s", true},
		{"ja", "c", "", false},
	} {
		if got, ok := c.text(tc.l, tc.key); got != tc.want || ok != tc.ok {
			t.Errorf("text(%q, %q) = %q, %v; want %q, %v", tc.l, tc.key, got, ok, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		l, key string
		args   []any
		want   string
	}{
		{"en", "fleet.more_rows", []any{3, 10}, "Showing 3 of 10; narrow the search to see the others."},
		{"ja", "fleet.more_rows", []any{3, 10}, "10 件中 3 件を表示しています。他を見るには検索条件を絞ってください。"},
		{"ja", "nav.devices", nil, "機器"},
		{"en", "no.such_key", nil, "no.such_key"},
	} {
		if got := translate(tc.l, tc.key, tc.args...); got != tc.want {
			t.Errorf("t(%q, %q, %v) = %q, want %q", tc.l, tc.key, tc.args, got, tc.want)
		}
	}
	if _, err := loadCatalogue(fstest.MapFS{"messages/en.yaml": {Data: []byte("a: [\n")}}); err == nil {
		t.Error("a broken file loads")
	}
	if _, err := loadCatalogue(fstest.MapFS{"messages/en.yaml": {Data: []byte("a: \"A\"\na: \"B\"\n")}}); err == nil {
		t.Error("a file with a key twice loads")
	}
}

func TestLanguageChoice(t *testing.T) {
	for _, tc := range []struct{ setting, accept, want string }{
		{"", "", "en"},
		{"", "ja-JP,ja;q=0.9,en;q=0.5", "ja"},
		{"", "fr-FR,fr;q=0.9", "en"},
		{"en", "ja", "en"},
		{"ja", "en-US", "ja"},
		{"", "garbage;;;q=", "en"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", tc.accept)
		if got := lang(tc.setting, r); got != tc.want {
			t.Errorf("lang(%q, %q) = %q, want %q", tc.setting, tc.accept, got, tc.want)
		}
	}
}
