package symbolize

import (
	"bufio"
	"bytes"
	"io"
	"sort"
	"strconv"
	"strings"
)

// maxMappings bounds the executable mappings kept of one process.
const maxMappings = 4096

// mapping is one executable mapping of a process (a line of its maps).
type mapping struct {
	start, end uint64
	offset     uint64 // of start in the file
	dev        uint64 // major << 32 | minor, as maps shows it
	inode      uint64
	path       string // "" for anonymous memory
}

// fileKey names a mapped file independently of mount namespaces.
type fileKey struct{ dev, inode uint64 }

func (m *mapping) key() fileKey { return fileKey{m.dev, m.inode} }

// procMaps is a process's executable mappings, sorted by address.
type procMaps []mapping

// find is the mapping that holds address a, or nil.
func (pm procMaps) find(a uint64) *mapping {
	i := sort.Search(len(pm), func(i int) bool { return pm[i].end > a })
	if i < len(pm) && pm[i].start <= a {
		return &pm[i]
	}
	return nil
}

// parseMaps reads the executable mappings of a /proc/PID/maps file:
// "start-end perms offset major:minor inode path" per line.
func parseMaps(r io.Reader) (procMaps, error) {
	var pm procMaps
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10) // a path is at most 4095 bytes
	for sc.Scan() && len(pm) < maxMappings {
		if m, ok := parseMapping(sc.Bytes()); ok {
			pm = append(pm, m)
		}
	}
	sort.Slice(pm, func(i, j int) bool { return pm[i].start < pm[j].start })
	return pm, sc.Err()
}

// parseMapping parses one line of maps, if it is an executable mapping.
func parseMapping(line []byte) (mapping, bool) {
	fields := bytes.Fields(line)
	if len(fields) < 5 || len(fields[1]) < 3 || fields[1][2] != 'x' {
		return mapping{}, false
	}
	lo, hi, ok := strings.Cut(string(fields[0]), "-")
	major, minor, ok2 := strings.Cut(string(fields[3]), ":")
	if !ok || !ok2 {
		return mapping{}, false
	}
	var m mapping
	var errs [6]error
	m.start, errs[0] = strconv.ParseUint(lo, 16, 64)
	m.end, errs[1] = strconv.ParseUint(hi, 16, 64)
	m.offset, errs[2] = strconv.ParseUint(string(fields[2]), 16, 64)
	maj, e1 := strconv.ParseUint(major, 16, 32)
	mnr, e2 := strconv.ParseUint(minor, 16, 32)
	errs[3], errs[4] = e1, e2
	m.dev = maj<<32 | mnr
	m.inode, errs[5] = strconv.ParseUint(string(fields[4]), 10, 64)
	for _, err := range errs {
		if err != nil {
			return mapping{}, false
		}
	}
	if len(fields) > 5 {
		m.path = string(after(line, 5)) // spaces included
	}
	return m, true
}

// after is what follows the first n fields of line, trimmed.
func after(line []byte, n int) []byte {
	for range n {
		line = bytes.TrimLeft(line, " \t")
		if i := bytes.IndexAny(line, " \t"); i >= 0 {
			line = line[i:]
		} else {
			return nil
		}
	}
	return bytes.TrimSpace(line)
}
