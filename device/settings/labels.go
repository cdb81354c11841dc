package settings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"golang.org/x/text/language"

	"github.com/hearthiot/hearth/store"
)

// FallbackLanguage is the language of a label when the reader's is
// missing.
const FallbackLanguage = "en"

// ValueKey is how a setting's value_labels name an allowed value: a
// string by its text ("heating"), any other value by its compact JSON
// ("0.01", "true").
func ValueKey(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// Label is what a person reading lang (a BCP 47 tag, "ja") calls the
// setting: its label in that language, else in English, else its
// description (the label of types defined before settings had labels),
// else its key.
func Label(st store.Setting, lang string) string {
	if l := pick(st.Labels, lang); l != "" {
		return l
	}
	if st.Description != "" {
		return st.Description
	}
	return st.Key
}

// ValueLabel is what a person reading lang calls the allowed value raw of
// the setting: its label in that language, else in English, else the
// value as ValueKey writes it.
func ValueLabel(st store.Setting, raw json.RawMessage, lang string) string {
	key := ValueKey(raw)
	if l := pick(st.ValueLabels[key], lang); l != "" {
		return l
	}
	return key
}

// pick chooses the label of lang: the exact tag, else one of the same
// base language ("ja-JP" for "ja"), else English; "" when none fits.
func pick(labels map[string]string, lang string) string {
	if len(labels) == 0 {
		return ""
	}
	if l, ok := labels[lang]; ok {
		return l
	}
	if base := baseOf(lang); base != "" {
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			if baseOf(k) == base {
				return labels[k]
			}
		}
	}
	return labels[FallbackLanguage]
}

func baseOf(tag string) string {
	t, err := language.Parse(tag)
	if err != nil {
		return ""
	}
	b, _ := t.Base()
	return b.String()
}

// checkLabels refuses labels whose languages are not BCP 47 tags in
// their canonical form, and value labels for values the setting does not
// allow.
func checkLabels(st store.Setting) error {
	if err := checkLanguages("labels", st.Labels); err != nil {
		return err
	}
	if len(st.ValueLabels) == 0 {
		return nil
	}
	if len(st.Enum) == 0 {
		return fmt.Errorf("value_labels name allowed values, and the setting has no enum: %w", ErrInvalid)
	}
	allowed := make(map[string]bool, len(st.Enum))
	keys := make([]string, len(st.Enum))
	for i, raw := range st.Enum {
		keys[i] = fmt.Sprintf("%q", ValueKey(raw))
		allowed[ValueKey(raw)] = true
	}
	for _, v := range slices.Sorted(maps.Keys(st.ValueLabels)) {
		if !allowed[v] {
			return fmt.Errorf("value_labels name %q, which is not an allowed value; the allowed values are %s (a string by its text, another value by its JSON): %w",
				v, strings.Join(keys, ", "), ErrInvalid)
		}
		if err := checkLanguages(fmt.Sprintf("value_labels of %q", v), st.ValueLabels[v]); err != nil {
			return err
		}
	}
	return nil
}

func checkLanguages(field string, labels map[string]string) error {
	for _, lang := range slices.Sorted(maps.Keys(labels)) {
		t, err := language.Parse(lang)
		if err != nil {
			return fmt.Errorf("%s: %q is not a BCP 47 language tag (en, ja, pt-BR): %w", field, lang, ErrInvalid)
		}
		if t.String() != lang {
			return fmt.Errorf("%s: write the language tag %q as %q: %w", field, lang, t.String(), ErrInvalid)
		}
	}
	return nil
}
