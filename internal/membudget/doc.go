// Package membudget works out how much memory Hearth may use — from a size
// or a share someone gave, else the container's cgroup limit, else a share
// of the machine's memory — and watches the Go heap against that budget at
// an interval, so that the broker can refuse work rather than grow past it.
//
// It reads only files (the cgroup and /proc files the kernel exports, under
// a root directory so that tests can give their own) and the Go runtime's
// metrics. It must not import anything of Hearth's and decides nothing but
// sizes and whether memory is short.
package membudget
