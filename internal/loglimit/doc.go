// Package loglimit keeps a flood of like log lines, such as refusals of
// unauthenticated requests that anyone can send by the thousand, from
// burying every other line: the first lines of each kind in a window are
// written, the rest counted and summarised in one line. It knows nothing
// of what it logs and must not decide anything but whether a line is
// written.
package loglimit
