package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"google.golang.org/grpc/credentials"
)

// TCPConfig is the optional TCP listener: mutual TLS, always.
type TCPConfig struct {
	Address  string // host:port; "" for none
	CertFile string // the server's certificate and key
	KeyFile  string
	ClientCA string // CA that signs client certificates
}

// listenUnix makes a unix socket at path with mode (and group, if set)
// before anyone can reach it: it is made in a private directory, given its
// mode, then moved into place.
func listenUnix(path string, mode os.FileMode, group string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("API socket %s: %w", path, err)
	}
	tmp, err := os.MkdirTemp(dir, ".vigil-sock-")
	if err != nil {
		return nil, fmt.Errorf("API socket %s: %w", path, err)
	}
	defer os.RemoveAll(tmp)
	staged := filepath.Join(tmp, "s")
	l, err := net.Listen("unix", staged)
	if err != nil {
		return nil, fmt.Errorf("API socket %s: %w", path, err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := protect(staged, mode, group); err != nil {
		l.Close()
		return nil, fmt.Errorf("API socket %s: %w", path, err)
	}
	if err := os.Rename(staged, path); err != nil {
		l.Close()
		return nil, fmt.Errorf("API socket %s: %w", path, err)
	}
	return &unlinking{Listener: l, path: path}, nil
}

// DefaultGroup is the read-only socket's group when none is named, if the
// system has it.
const DefaultGroup = "vigil"

// The agent's flags for the read-only socket's access.
const (
	FlagReadOnlyGroup = "api-readonly-group"
	FlagReadOnlyWorld = "api-readonly-world-accessible"
)

// readOnlyAccess is the read-only socket's mode and group: 0660 with the
// group named; without one, 0660 with fallback if the system has that
// group, else 0600 (root only); 0666 (every local user) when world.
func readOnlyAccess(group string, world bool, fallback string) (os.FileMode, string, error) {
	switch {
	case world && group != "":
		return 0, "", fmt.Errorf("--%s and --%s: give one or the other", FlagReadOnlyGroup, FlagReadOnlyWorld)
	case world:
		return 0o666, "", nil
	case group != "":
		return 0o660, group, nil
	}
	if _, err := user.LookupGroup(fallback); err == nil {
		return 0o660, fallback, nil
	}
	return 0o600, "", nil
}

// protect sets a socket's mode, and its group if one is named.
func protect(path string, mode os.FileMode, group string) error {
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return fmt.Errorf("--%s: %w", FlagReadOnlyGroup, err)
		}
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Chown(path, 0, gid); err != nil {
			return err
		}
	}
	return os.Chmod(path, mode)
}

// unlinking removes its socket file when closed.
type unlinking struct {
	net.Listener
	path string
}

// Addr is the socket's path, not the one it was made at.
func (u *unlinking) Addr() net.Addr { return &net.UnixAddr{Name: u.path, Net: "unix"} }

func (u *unlinking) Close() error {
	err := u.Listener.Close()
	os.Remove(u.path)
	return err
}

// listenTLS listens on TCP and demands a client certificate signed by the
// client CA.
func listenTLS(cfg TCPConfig) (net.Listener, credentials.TransportCredentials, error) {
	if cfg.CertFile == "" || cfg.KeyFile == "" || cfg.ClientCA == "" {
		return nil, nil, fmt.Errorf("API on TCP %s: needs a certificate, its key and a client CA (mutual TLS only)", cfg.Address)
	}
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("API TLS certificate: %w", err)
	}
	pem, err := os.ReadFile(cfg.ClientCA)
	if err != nil {
		return nil, nil, fmt.Errorf("API client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("API client CA %s: no PEM certificate in it", cfg.ClientCA)
	}
	l, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, nil, fmt.Errorf("API on TCP: %w", err)
	}
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	return l, creds, nil
}
