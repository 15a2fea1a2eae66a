// Package spool keeps a sink's undelivered events on disk, in order, within a
// size bound.
//
// A spool is a directory (created 0700) of segment files (created 0600), each
// named by the sequence number of its first record, and a file "ack" holding
// the sequence number of the oldest record not yet acknowledged. Append adds a
// record at the end; Peek reads the oldest ones without removing them; Ack
// removes them once they were delivered. A segment whose records are all
// acknowledged is deleted. After a restart, Open resumes from the first
// record not acknowledged, so every record is delivered at least once, and
// exactly once when the process did not stop between a delivery and its Ack.
//
// The bound is on the bytes of records not yet acknowledged; the disk holds at
// most one segment more. A record that does not fit is refused with ErrFull
// and counted (Refused): a full spool never drops silently.
//
// Disk faults: an Append is all or nothing. A write that fails (a full disk)
// is refused with ErrWrite and counted (Refused), what it wrote is cut back
// off, and its segment takes no more records: the next ones go to a new
// segment (the records after a torn one are never in its segment), and it is
// deleted as soon as its records are acknowledged, which frees the disk. The
// acknowledged position is overwritten in place when the disk is full. A record's length is
// checked against what is left of its segment before anything is allocated
// for it, and its CRC before it is handed out. A record found torn or
// corrupt, at Open or by Peek, is skipped with the rest of its segment (the
// records before it are kept; a segment cannot be resynchronized safely: a
// run of zeros reads as empty records with a good CRC), and the records so
// lost are counted (Corrupt): exactly, from the sequence numbers in the
// segments' names, except for a torn end of the last segment, counted as
// one.
//
// Why not a library: github.com/nsqio/go-diskqueue, the best known Go disk
// queue, hands a record out through a channel and counts it consumed when it is
// read, before it is delivered; it has no bound on total size and no byte
// count. A delivery that must survive a receiver outage and a restart needs
// peek-then-acknowledge, so this package is a small segment-file queue of its
// own.
package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Errors of Append.
var (
	ErrFull     = errors.New("spool full")
	ErrTooLarge = errors.New("record larger than the spool")
	ErrClosed   = errors.New("spool closed")
	ErrWrite    = errors.New("spool write failed")
)

// Options bound a spool.
type Options struct {
	// MaxBytes bounds the records not yet acknowledged, headers included
	// (64 MiB when 0).
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file is started
	// (MaxBytes/8, between 64 KiB and 8 MiB, when 0).
	SegmentBytes int64
	// SyncEvery is the least time between two fsyncs by Sync (1 s when 0).
	SyncEvery time.Duration
}

// Record is one record read by Peek.
type Record struct {
	Seq  uint64    // sequence number, increasing by one per record
	Time time.Time // when it was appended
	Data []byte
}

// header: length (4), CRC-32C of the data (4), append time in Unix ns (8).
const headerSize = 16

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type segment struct {
	first  uint64 // sequence number of its first record
	size   int64  // bytes of whole records in the file
	n      uint64 // records in the file
	sealed bool   // takes no more records (a write to it failed)
}

// Spool is a bounded on-disk FIFO queue of byte records, safe for use by
// one appender and one reader at a time.
type Spool struct {
	dir string
	opt Options

	mu       sync.Mutex
	segs     []segment // oldest first; the last one is written to
	w        *os.File  // the last segment, nil until the next Append
	r        *os.File  // the first segment, opened for Peek
	rFirst   uint64    // which segment r is
	head     uint64    // sequence number of the oldest record not acknowledged
	headOff  int64     // its offset in segs[0]
	next     uint64    // sequence number of the next record appended
	bytes    int64     // bytes of records not acknowledged
	count    int64     // records not acknowledged
	oldest   time.Time // append time of the head record, zero when unknown
	refused  uint64
	corrupt  uint64 // records found torn or corrupt, skipped
	dirty    bool
	lastSync time.Time
	closed   bool
	ready    chan struct{}
}

// Open opens the spool in dir, creating it when missing, and resumes from
// the first record not acknowledged. A record cut short by a crash at the
// end of a segment is cut off.
func Open(dir string, opt Options) (*Spool, error) {
	opt = withDefaults(opt)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{dir: dir, opt: opt, ready: make(chan struct{}, 1), lastSync: time.Now()}
	if err := s.load(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func withDefaults(o Options) Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 20
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = min(max(o.MaxBytes/8, 64<<10), 8<<20)
	}
	if o.SyncEvery <= 0 {
		o.SyncEvery = time.Second
	}
	return o
}

func (s *Spool) segPath(first uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d.seg", first))
}

// load reads the acknowledged position and scans the segments.
func (s *Spool) load() error {
	acked, err := s.readAck()
	if err != nil {
		return err
	}
	names, err := filepath.Glob(filepath.Join(s.dir, "*.seg"))
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	firsts, names := segmentNames(names)
	s.head, s.next = acked, acked
	for i, name := range names {
		end := uint64(0) // the next segment's first record; 0: unknown
		if i+1 < len(names) {
			end = firsts[i+1]
		}
		if err := s.loadSegment(name, firsts[i], end, acked); err != nil {
			return err
		}
	}
	if err := s.skipAcked(); err != nil {
		return err
	}
	if _, err := os.Lstat(filepath.Join(s.dir, "ack")); errors.Is(err, os.ErrNotExist) {
		s.writeAck() // now, while there is room: Ack can then overwrite it on a full disk
	}
	return nil
}

// segmentNames keeps the names that are segments' and parses their first
// sequence numbers, in order.
func segmentNames(all []string) ([]uint64, []string) {
	var firsts []uint64
	var names []string
	for _, name := range all {
		first, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), ".seg"), 10, 64)
		if err != nil {
			continue // not ours
		}
		firsts, names = append(firsts, first), append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return firsts[i] < firsts[j] })
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	return firsts, names
}

func (s *Spool) readAck() (uint64, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "ack"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("spool: bad ack file: %w", err)
	}
	return n, nil
}

// loadSegment scans one segment: a segment wholly acknowledged is deleted,
// a torn or corrupt tail is cut off and its records counted (end is the
// next segment's first record, 0 when this is the last).
func (s *Spool) loadSegment(name string, first, end, acked uint64) error {
	f, err := os.OpenFile(name, os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	n, good, err := scan(f, fi.Size())
	if err != nil {
		return fmt.Errorf("spool: %s: %w", name, err)
	}
	if fi.Size() > good {
		s.countCorrupt(max(first+n, acked), end)
		if err := f.Truncate(good); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	if n == 0 || first+n <= acked {
		return os.Remove(name)
	}
	if len(s.segs) == 0 && first > s.head {
		s.head = first
	}
	s.segs = append(s.segs, segment{first: first, size: good, n: n})
	s.next = first + n
	s.count += int64(n)
	return nil
}

// countCorrupt counts the records lost from seq on, up to end (the next
// segment's first record) where it is known (not 0), else one.
func (s *Spool) countCorrupt(seq, end uint64) {
	switch {
	case end == 0:
		s.corrupt++
	case end > seq:
		s.corrupt += end - seq
	}
}

// scan counts the good records of a segment of fileSize bytes and returns
// where they end: at the end of the file, or at the first record torn
// (longer than what is left) or corrupt (its CRC). No record is read into
// memory before its length is checked.
func scan(f *os.File, fileSize int64) (n uint64, end int64, err error) {
	var buf []byte
	for end < fileSize {
		size, _, ok, err := readHeader(f, end, fileSize)
		if err != nil || !ok {
			return n, end, err
		}
		buf = grow(buf, int(size))
		if ok, err := checkData(f, end, buf); err != nil || !ok {
			return n, end, err
		}
		n++
		end += headerSize + size
	}
	return n, end, nil
}

// readHeader reads the header at off of a segment of size bytes; ok is
// false when it is torn or announces more than the segment holds.
func readHeader(f *os.File, off, size int64) (n int64, t time.Time, ok bool, err error) {
	var h [headerSize]byte
	if off+headerSize > size {
		return 0, t, false, nil
	}
	if _, err := f.ReadAt(h[:], off); err != nil {
		return 0, t, false, ignoreEOF(fmt.Errorf("spool: read: %w", err))
	}
	n = int64(binary.BigEndian.Uint32(h[0:4]))
	t = time.Unix(0, int64(binary.BigEndian.Uint64(h[8:16])))
	return n, t, n <= size-off-headerSize, nil
}

// checkData reads the data of the record at off into buf (its length) and
// checks its CRC.
func checkData(f *os.File, off int64, buf []byte) (bool, error) {
	var h [8]byte
	if _, err := f.ReadAt(h[:], off); err != nil {
		return false, ignoreEOF(fmt.Errorf("spool: read: %w", err))
	}
	if _, err := f.ReadAt(buf, off+headerSize); err != nil {
		return false, ignoreEOF(fmt.Errorf("spool: read: %w", err))
	}
	return crc32.Checksum(buf, crcTable) == binary.BigEndian.Uint32(h[4:8]), nil
}

// ignoreEOF makes a read cut short by the end of the file a torn record
// rather than an error.
func ignoreEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// skipAcked moves the head past acknowledged records in the first segment
// and counts the bytes left.
func (s *Spool) skipAcked() error {
	if len(s.segs) == 0 {
		s.head = s.next
		return nil
	}
	s.head = max(s.head, s.segs[0].first)
	for seq := s.segs[0].first; seq < s.head; seq++ {
		size, _, ok, err := s.header(0, s.headOff)
		if err != nil {
			return err
		}
		if !ok { // scan checked every record
			return fmt.Errorf("spool: %s: a record changed while opening", s.segPath(s.segs[0].first))
		}
		s.headOff += headerSize + size
		s.count--
	}
	s.bytes = -s.headOff
	for _, g := range s.segs {
		s.bytes += g.size
	}
	return nil
}

// Append adds a record at the end. A full spool refuses it with ErrFull and
// counts it.
func (s *Spool) Append(data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	size := headerSize + int64(len(data))
	switch {
	case size > s.opt.MaxBytes || len(data) > 1<<31:
		s.refused++
		return ErrTooLarge
	case s.bytes+size > s.opt.MaxBytes:
		s.refused++
		return ErrFull
	}
	if err := s.writable(); err != nil {
		s.refused++
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	buf := make([]byte, size)
	now := time.Now()
	binary.BigEndian.PutUint32(buf[0:4], uint32(len(data)))
	binary.BigEndian.PutUint32(buf[4:8], crc32.Checksum(data, crcTable))
	binary.BigEndian.PutUint64(buf[8:16], uint64(now.UnixNano()))
	copy(buf[headerSize:], data)
	if err := s.write(buf); err != nil {
		s.refused++
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	if s.count == 0 {
		s.oldest = now
	}
	s.segs[len(s.segs)-1].size += size
	s.segs[len(s.segs)-1].n++
	s.bytes += size
	s.count++
	s.next++
	s.dirty = true
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return nil
}

// write appends one record to the last segment, all or nothing: what a
// failed write wrote is cut back off (if that fails too, a torn record
// follows the segment's records). The segment is sealed: the next record
// goes to a new one, and once its records are acknowledged, it is deleted
// at once, not when it is full, which frees room on a full disk.
func (s *Spool) write(buf []byte) error {
	last := &s.segs[len(s.segs)-1]
	n, err := s.w.Write(buf)
	if err == nil {
		return nil
	}
	if n > 0 {
		s.w.Truncate(last.size)
	}
	last.sealed = true
	s.closeWriter()
	return err
}

// writable makes sure a segment is open for writing, starting a new one
// when the last is full or sealed.
func (s *Spool) writable() error {
	open := len(s.segs) > 0 && !s.segs[len(s.segs)-1].sealed && s.segs[len(s.segs)-1].size < s.opt.SegmentBytes
	if s.w != nil && open {
		return nil
	}
	if n := len(s.segs); n > 0 && s.segs[n-1].sealed && s.segs[n-1].size == 0 {
		if err := s.dropLast(); err != nil {
			return err
		}
	}
	if s.w == nil && open {
		last := s.segs[len(s.segs)-1]
		f, err := os.OpenFile(s.segPath(last.first), os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.w = f
		return nil
	}
	if err := s.closeWriter(); err != nil {
		return err
	}
	f, err := os.OpenFile(s.segPath(s.next), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.w = f
	s.segs = append(s.segs, segment{first: s.next})
	return nil
}

func (s *Spool) closeWriter() error {
	if s.w == nil {
		return nil
	}
	err := s.w.Sync()
	if cerr := s.w.Close(); err == nil {
		err = cerr
	}
	s.w = nil
	return err
}

// Ready is signalled after an Append: a reader waits on it when Peek
// found nothing.
func (s *Spool) Ready() <-chan struct{} { return s.ready }

// Peek returns up to n of the oldest records, not acknowledged, within
// about maxBytes of data (at least one record), without removing them. A
// torn or corrupt record at the head is skipped with the rest of its
// segment and counted (Corrupt); one further on ends the batch, to be
// skipped when it is at the head.
func (s *Spool) Peek(n int, maxBytes int) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	var out []Record
	seg, off, seq, total := 0, s.headOff, s.head, 0
	for len(out) < n && int64(len(out)) < s.count && (total < maxBytes || len(out) == 0) {
		for off >= s.segs[seg].size && seg+1 < len(s.segs) {
			seg, off = seg+1, 0
			seq = s.segs[seg].first
		}
		rec, size, ok, err := s.readRecord(seg, off)
		if err != nil {
			return out, err
		}
		if !ok && len(out) > 0 {
			break
		}
		if !ok {
			if err := s.skipHead(); err != nil {
				return nil, err
			}
			seg, off, seq = 0, s.headOff, s.head
			continue
		}
		rec.Seq = seq
		out = append(out, rec)
		off += headerSize + size
		seq++
		total += len(rec.Data)
	}
	return out, nil
}

// readRecord reads the record at off in segment seg; ok is false when it
// is torn or corrupt.
func (s *Spool) readRecord(seg int, off int64) (Record, int64, bool, error) {
	f, err := s.reader(s.segs[seg].first)
	if err != nil {
		return Record{}, 0, false, err
	}
	size, t, ok, err := readHeader(f, off, s.segs[seg].size)
	if err != nil || !ok {
		return Record{}, 0, false, err
	}
	data := make([]byte, size)
	if ok, err = checkData(f, off, data); err != nil || !ok {
		return Record{}, 0, false, err
	}
	return Record{Time: t, Data: data}, size, true, nil
}

// skipHead drops the rest of the first segment, from the head on, whose
// head record is torn or corrupt, and counts the records lost.
func (s *Spool) skipHead() error {
	g := s.segs[0]
	lost := g.first + g.n - s.head
	s.corrupt += lost
	s.count -= int64(lost)
	s.bytes -= g.size - s.headOff
	s.oldest = time.Time{}
	if err := s.dropFirst(); err != nil {
		return err
	}
	if len(s.segs) == 0 {
		s.head = s.next
	}
	return nil
}

// reader returns the segment starting at first opened for reading; only
// one is kept open.
func (s *Spool) reader(first uint64) (*os.File, error) {
	if s.r != nil && s.rFirst == first {
		return s.r, nil
	}
	if s.r != nil {
		s.r.Close()
		s.r = nil
	}
	f, err := os.OpenFile(s.segPath(first), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s.r, s.rFirst = f, first
	return f, nil
}

// header reads the header at off in segment seg; ok is false when it is
// torn or announces more than the segment holds.
func (s *Spool) header(seg int, off int64) (size int64, t time.Time, ok bool, err error) {
	f, err := s.reader(s.segs[seg].first)
	if err != nil {
		return 0, t, false, err
	}
	return readHeader(f, off, s.segs[seg].size)
}

// Ack removes the n oldest records, once they were delivered, and records
// the new position on disk.
func (s *Spool) Ack(n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for ; n > 0 && s.count > 0; n-- {
		if err := s.ackOne(); err != nil {
			return err
		}
	}
	s.oldest = time.Time{}
	return s.writeAck()
}

func (s *Spool) ackOne() error {
	for len(s.segs) > 0 && s.headOff >= s.segs[0].size {
		if err := s.dropFirst(); err != nil {
			return err
		}
	}
	if len(s.segs) == 0 {
		s.count = 0
		return nil
	}
	size, _, ok, err := s.header(0, s.headOff)
	if err != nil {
		return err
	}
	if !ok {
		return s.skipHead()
	}
	s.head++
	s.headOff += headerSize + size
	s.bytes -= headerSize + size
	s.count--
	last := len(s.segs) == 1
	if s.headOff < s.segs[0].size || (last && !s.segs[0].sealed && s.segs[0].size < s.opt.SegmentBytes) {
		return nil // the segment still written to is kept until it is full
	}
	return s.dropFirst()
}

// dropLast deletes the last segment, sealed before it took a record.
func (s *Spool) dropLast() error {
	last := s.segs[len(s.segs)-1].first
	if s.r != nil && s.rFirst == last {
		s.r.Close()
		s.r = nil
	}
	s.segs = s.segs[:len(s.segs)-1]
	if err := os.Remove(s.segPath(last)); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// dropFirst deletes the first segment, all of whose records are
// acknowledged.
func (s *Spool) dropFirst() error {
	first := s.segs[0].first
	if len(s.segs) == 1 {
		if err := s.closeWriter(); err != nil {
			return err
		}
	}
	if s.r != nil && s.rFirst == first {
		s.r.Close()
		s.r = nil
	}
	s.segs = s.segs[1:]
	s.headOff = 0
	if len(s.segs) > 0 {
		s.head = s.segs[0].first
	}
	if err := os.Remove(s.segPath(first)); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// writeAck records the head position: written to a temporary file and
// renamed, so a crash leaves the old position or the new one. Where the
// disk is full, the position is overwritten in place instead: it is always
// 21 bytes, so that needs no room.
func (s *Spool) writeAck() error {
	b := fmt.Appendf(nil, "%020d\n", s.head)
	tmp, ack := filepath.Join(s.dir, "ack.tmp"), filepath.Join(s.dir, "ack")
	err := os.WriteFile(tmp, b, 0o600)
	if err == nil {
		if err = os.Rename(tmp, ack); err == nil {
			return nil
		}
	}
	os.Remove(tmp)
	if perr := overwrite(ack, b); perr != nil {
		return fmt.Errorf("spool: %w: %w", ErrWrite, errors.Join(err, perr))
	}
	return nil
}

func overwrite(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(b, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Sync flushes appended records to stable storage, at most once per
// SyncEvery; records are written to their file at Append already, so they
// survive the process stopping, and Sync guards against the machine
// stopping.
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty || s.w == nil || time.Since(s.lastSync) < s.opt.SyncEvery {
		return nil
	}
	s.dirty, s.lastSync = false, time.Now()
	return s.w.Sync()
}

// Bytes is the size of the records not yet acknowledged, headers included.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Records is the number of records not yet acknowledged.
func (s *Spool) Records() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Corrupt is the number of records found torn or corrupt since Open, at
// Open or by Peek, and skipped.
func (s *Spool) Corrupt() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.corrupt
}

// Refused is the number of records Append refused since Open: the spool
// was full, or the record could not be written (ErrWrite).
func (s *Spool) Refused() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// Oldest is when the oldest record not acknowledged was appended; false
// when the spool is empty.
func (s *Spool) Oldest() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.count == 0 {
		return time.Time{}, false
	}
	if s.oldest.IsZero() {
		seg, off := 0, s.headOff
		for off >= s.segs[seg].size && seg+1 < len(s.segs) {
			seg, off = seg+1, 0
		}
		_, t, ok, err := s.header(seg, off)
		if err != nil || !ok {
			return time.Time{}, false
		}
		s.oldest = t
	}
	return s.oldest, true
}

// Close syncs and closes the spool's files; what was not acknowledged
// stays for the next Open.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.r != nil {
		s.r.Close()
	}
	return s.closeWriter()
}
