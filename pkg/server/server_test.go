package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/vigil-sec/vigil/pkg/agent"
	"github.com/vigil-sec/vigil/pkg/api"
	"github.com/vigil-sec/vigil/pkg/broadcast"
	"github.com/vigil-sec/vigil/pkg/event"
)

// testCA signs certificates for the test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T) *testCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a certificate for name in organization org (server: for
// 127.0.0.1).
func (ca *testCA) issue(t *testing.T, name, org string, server bool) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:   pkix.Name{CommonName: name, Organization: []string{org}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, dir, name string, c tls.Certificate) (certFile, keyFile string) {
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	der, _ := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

type discard struct{}

func (discard) Write(*event.Event) error { return nil }
func (discard) Flush() error             { return nil }

const observe = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: %s}
spec:
  kprobes:
  - call: sys_openat
    args: [{index: 0, type: int}, {index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Prefix, values: ["/nonexistent/vigil-test"]}]
      matchActions: [{action: %s}]
`

// Over TCP, the client certificate's organization is the role: an operator
// adds a policy that observes but not one that kills; the admin can; a
// client without a certificate is turned away.
func TestTCPRolesFromClientCertificates(t *testing.T) {
	a, err := agent.New(agent.Config{}, discard{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)

	dir := t.TempDir()
	ca := newCA(t)
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := writePEM(t, dir, "server", ca.issue(t, "agent", "", true))
	addr := freeAddr(t)
	s, err := Start(Config{TCP: TCPConfig{Address: addr, CertFile: certFile, KeyFile: keyFile, ClientCA: caFile}},
		a, broadcast.New())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.pem)
	client := func(certs ...tls.Certificate) api.VigilClient {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(
			&tls.Config{RootCAs: pool, Certificates: certs, ServerName: "127.0.0.1"})))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return api.NewVigilClient(conn)
	}
	add := func(c api.VigilClient, name, action string) error {
		_, err := c.AddPolicy(ctx, &api.AddPolicyRequest{Yaml: []byte(fmt.Sprintf(observe, name, action))})
		return err
	}

	operator := client(ca.issue(t, "ops", OrgOperator, false))
	if err := add(operator, "ops-observe", "Post"); err != nil {
		t.Errorf("operator adding an observing policy: %v", err)
	}
	if err := add(operator, "ops-kill", "Sigkill"); err == nil || !strings.Contains(err.Error(), "needs the admin role") {
		t.Errorf("operator adding a Sigkill policy: %v, want refused", err)
	}
	if err := add(client(ca.issue(t, "root", OrgAdmin, false)), "admin-kill", "Sigkill"); err != nil {
		t.Errorf("admin adding a Sigkill policy: %v", err)
	}
	st, err := client(ca.issue(t, "viewer", "someone", false)).GetStatus(ctx, &api.GetStatusRequest{})
	if err != nil || st.Role != "readonly" {
		t.Errorf("a certificate of another organization: %v, role %q, want readonly", err, st.GetRole())
	}
	if _, err := client().GetStatus(ctx, &api.GetStatusRequest{}); err == nil {
		t.Error("a client without a certificate was served")
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
