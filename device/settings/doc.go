// Package settings turns a device type's settings, as an operator defines
// them (store.Setting: key, type, unit, minimum, maximum, step, allowed
// values, a JSON Schema for structured values, and whether customers may
// change the key), into the checks the shadow service runs on every update:
//
//   - CheckDesired refuses a desired update that breaks a rule, naming the
//     key and the rule ("desired.chw_setpoint: 15 is above the maximum 12
//     °C"), and refuses keys the type does not define;
//   - CheckCustomer refuses a desired update that touches a key customers
//     may not change;
//   - Reported lists the reported values that break a rule, for flagging:
//     a device reports what it holds, and refusing that would only hide it.
//
// Label and ValueLabel name a setting and its allowed values in a
// reader's language, from the setting's labels, falling back to English.
//
// The rules are compiled once into JSON Schemas and checked with
// santhosh-tekuri/jsonschema, so the type, range, step, enum and
// structured-value checks are a maintained implementation of JSON Schema
// rather than code of Hearth's own; the package only builds the schema and
// words the failures. It is pure: no I/O, no clock, safe for concurrent use
// once compiled.
package settings
