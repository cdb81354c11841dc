package protocol

import (
	"errors"
	"fmt"
	"strings"
)

// Topic templates: a device type may declare topics of its own that its
// devices publish on, as gateways made for other platforms do
// ("dt/{site}/{name}/data"). A template's levels are literal text or one
// placeholder each — {name} (required, once), {site}, {customer}, {type} —
// and expand, for one device, to one topic that device alone may publish
// on.

// MaxTopicTemplates is how many templates a device type may declare.
const MaxTopicTemplates = 10

// TopicVars are the values a template's placeholders take for one device.
type TopicVars struct {
	Name, Site, Customer, Type string
}

// CheckTopicTemplate says what is wrong with a topic template, or nil.
func CheckTopicTemplate(t string) error {
	switch {
	case t == "":
		return errors.New("a topic template is empty")
	case len(t) > 256:
		return fmt.Errorf("topic template %q: at most 256 bytes", t[:32]+"…")
	case strings.HasPrefix(t, "$"):
		return fmt.Errorf("topic template %q: topics beginning with $ are the broker's", t)
	case strings.HasPrefix(t, PrefixHearth+"/") || t == PrefixHearth:
		return fmt.Errorf("topic template %q: %s/… are Hearth's own topics, which every device has already", t, PrefixHearth)
	case strings.ContainsAny(t, "+#\x00"):
		return fmt.Errorf("topic template %q: no wildcards (+, #) or NUL", t)
	}
	names := 0
	for _, level := range strings.Split(t, "/") {
		switch {
		case level == "":
			return fmt.Errorf("topic template %q: an empty level", t)
		case level == "{name}":
			names++
		case level == "{site}" || level == "{customer}" || level == "{type}":
		case strings.ContainsAny(level, "{}"):
			return fmt.Errorf("topic template %q: level %q; a placeholder is a whole level: {name}, {site}, {customer} or {type}", t, level)
		}
	}
	if names != 1 {
		return fmt.Errorf("topic template %q: {name} must be one of its levels, once, so that the topic is one device's", t)
	}
	return nil
}

// ExpandTopicTemplate is a checked template's topic for one device.
func ExpandTopicTemplate(t string, v TopicVars) string {
	levels := strings.Split(t, "/")
	for i, level := range levels {
		switch level {
		case "{name}":
			levels[i] = v.Name
		case "{site}":
			levels[i] = v.Site
		case "{customer}":
			levels[i] = v.Customer
		case "{type}":
			levels[i] = v.Type
		}
	}
	return strings.Join(levels, "/")
}
