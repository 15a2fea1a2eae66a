// Package beacontest is a DNS server for tests of the DnsLookup action: on
// a loopback UDP port, it answers every A query with 10.1.2.3 and counts
// the queries by name.
package beacontest

import (
	"encoding/binary"
	"net"
	"strings"
	"sync"
)

// DNS is a running server.
type DNS struct {
	Addr    string // host:port
	conn    net.PacketConn
	mu      sync.Mutex
	queries map[string]int
}

// StartDNS starts a server.
func StartDNS() (*DNS, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := &DNS{Addr: pc.LocalAddr().String(), conn: pc, queries: map[string]int{}}
	go d.serve()
	return d, nil
}

// Queries says how many queries for name arrived.
func (d *DNS) Queries(name string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queries[name]
}

// Close stops the server.
func (d *DNS) Close() { d.conn.Close() }

func (d *DNS) serve() {
	buf := make([]byte, 512)
	for {
		n, from, err := d.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp, name, ok := answer(buf[:n]); ok {
			d.mu.Lock()
			d.queries[name]++
			d.mu.Unlock()
			_, _ = d.conn.WriteTo(resp, from)
		}
	}
}

// answer reads a query's one question and answers it with an A record.
func answer(q []byte) (resp []byte, name string, ok bool) {
	var labels []string
	i := 12
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil, "", false
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	end := i + 1 + 4 // the NUL, type and class
	if len(q) < 12 || end > len(q) {
		return nil, "", false
	}
	resp = append([]byte{}, q[:end]...)
	binary.BigEndian.PutUint16(resp[2:], 0x8180) // a response, no error
	binary.BigEndian.PutUint16(resp[6:], 1)      // one answer, no others
	binary.BigEndian.PutUint32(resp[8:], 0)
	resp = append(resp, 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 1, 2, 3)
	return resp, strings.Join(labels, "."), true
}
