package ui

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"github.com/nicksnyder/go-i18n/v2/i18n/template"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
)

// messageFiles are the catalogue's files, one a language, named by its
// language tag: messages/en.yaml, messages/ja.yaml.
//
//go:embed messages/*.yaml
var messageFiles embed.FS

// fallback is the language of a page no other language fits, and of a
// message another language lacks.
var fallback = language.English

// messages is every message of the pages, read once from messageFiles:
// the files are part of the binary, so one that cannot be read is a
// build mistake the tests catch, and never changes while Hearth runs.
var messages = mustLoadCatalogue(messageFiles)

// catalogue finds a message by key in a language.
type catalogue struct {
	// supported are the languages of the files, the fallback first.
	supported []language.Tag
	matcher   language.Matcher
	// localizers find messages in one language, by its base ("ja"),
	// falling back to English for a message the language lacks.
	localizers map[string]*i18n.Localizer
}

func mustLoadCatalogue(fsys fs.FS) *catalogue {
	c, err := loadCatalogue(fsys)
	if err != nil {
		panic("ui: " + err.Error())
	}
	return c
}

// loadCatalogue reads the message files of fsys's messages directory.
func loadCatalogue(fsys fs.FS) (*catalogue, error) {
	b := i18n.NewBundle(fallback)
	b.RegisterUnmarshalFunc("yaml", yaml.Unmarshal)
	names, err := fs.Glob(fsys, "messages/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list message files: %w", err)
	}
	if len(names) == 0 {
		return nil, errors.New("no message files in messages/")
	}
	for _, name := range names {
		f, err := b.LoadMessageFileFS(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read message file %s: %w", name, err)
		}
		if f.Tag == language.Und {
			return nil, fmt.Errorf("message file %s: its name is no language tag", name)
		}
	}
	c := &catalogue{supported: b.LanguageTags(), localizers: map[string]*i18n.Localizer{}}
	for _, tag := range c.supported {
		base, _ := tag.Base()
		c.localizers[base.String()] = i18n.NewLocalizer(b, tag.String())
	}
	c.matcher = language.NewMatcher(c.supported)
	return c, nil
}

// text is the message key in language l (a base language, "ja"), or
// false when no file has it.
func (c *catalogue) text(l, key string) (string, bool) {
	loc, ok := c.localizers[l]
	if !ok {
		loc = c.localizers[fallback.String()]
	}
	// The messages are fmt formats, not Go templates: the identity parser
	// hands them over as written. A message the language lacks comes in
	// English, with an error that says so; one no file has comes empty.
	s, _ := loc.Localize(&i18n.LocalizeConfig{MessageID: key, TemplateParser: template.IdentityParser{}})
	return s, s != ""
}

// has reports whether the catalogue has a message key, for labels built
// from data that fall back to the data itself.
func (c *catalogue) has(key string) bool {
	_, ok := c.text(fallback.String(), key)
	return ok
}

// lang picks the page language: the user's setting when there is one,
// else the browser's Accept-Language, else English.
func lang(setting string, r *http.Request) string {
	prefs := []language.Tag{}
	if setting != "" {
		if t, err := language.Parse(setting); err == nil {
			prefs = append(prefs, t)
		}
	}
	if accept, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language")); err == nil {
		prefs = append(prefs, accept...)
	}
	_, i, _ := messages.matcher.Match(prefs...)
	base, _ := messages.supported[i].Base()
	return base.String()
}

// t returns the message key in language l, formatted with args; an
// unknown key shows as itself, so a missing entry is visible rather than
// blank.
func t(l, key string, args ...any) string {
	s, ok := messages.text(l, key)
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}
