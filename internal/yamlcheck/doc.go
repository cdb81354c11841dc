// Package yamlcheck is the machinery of Hearth's YAML checkers that report
// every problem of a file at once, each with its line: the gateway agent's
// configuration and the Modbus register map (which is also a section of
// the agent's file, so the two must count lines alike).
//
// It reads a file as one YAML document of nodes (Document), keeps a
// bounded list of problems (Problems), and reads the keys of a mapping
// against those accepted (Fields). The checkers keep their own words: this
// package says which key is wrong and why, each checker how to tell the
// person who wrote the file.
//
// It decodes nothing into Go values and knows no file format of its own.
package yamlcheck
