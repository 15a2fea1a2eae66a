// Package symbolize names the addresses of stack traces: a kernel address
// by the function of /proc/kallsyms it falls in, a user address by the
// file its process mapped there (/proc/PID/maps), the offset in that file,
// and the ELF symbol at that offset. Every cache it keeps is bounded.
package symbolize

// Frame is one address of a stack trace, named.
type Frame struct {
	Address uint64
	// Offset is, in a kernel frame, the address's offset into its
	// function; in a user frame, its offset into the mapped file.
	Offset uint64
	Symbol string // the function; "" where the file has no symbol there
	// Module is, in a kernel frame, the module in brackets ("[ext4]"),
	// "" for the kernel itself; in a user frame, the mapped file's path
	// as the process sees it, or a pseudo-path such as "[vdso]".
	Module string
}

// Unknown names what could not be found: the Symbol of a kernel address
// without a symbol, the Module of a user address without a mapping (its
// process exited before its memory map was read).
const Unknown = "unknown"
