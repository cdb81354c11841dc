package wal

import (
	"os"
	"syscall"
)

// datasync makes a file's data durable: fdatasync, which leaves out
// metadata that reading the data does not need (times), about half the
// cost of fsync here.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
