package nats

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/remask/remask/rollout"
)

// selfSigned writes a CA-less self-signed certificate for 127.0.0.1 and
// its key, and returns their paths.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "remask test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// A TLS server: the trainer and a worker that trust its certificate (the
// CA file) roll out as over plain TCP; one that does not gets one line;
// insecure_skip_verify connects anyway.
func TestTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server")
	}
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	s, _ := startServer(t, ServerConfig{TLSCert: cert, TLSKey: key, Token: "t0ken"})
	url := "tls://" + s.Addr().String()
	trusted := ConnConfig{URL: url, Token: "t0ken", CAFile: cert}
	startWorker(t, WorkerConfig{Conn: trusted})
	b := newBackend(t, url, Config{Conn: trusted, AckWait: 5 * time.Second, StepTimeout: time.Minute}, testPool())
	snap := rollout.NewSnapshot(testParams(t, 8), 0)
	got, err := b.Rollout(context.Background(), snap, 0, testPrompts(3))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, poolGroups(t, snap, 0, 0, testPrompts(3))) {
		t.Fatal("groups over TLS differ from the pool's")
	}
	t0 := time.Now()
	_, err = New(Config{Conn: ConnConfig{URL: url, Token: "t0ken", ConnectTimeout: time.Second}, Version: testVersion}, testPool())
	oneLine(t, "untrusted certificate", time.Since(t0), 3*time.Second, err, "TLS", "certificate")
	b2, err := New(Config{Conn: ConnConfig{URL: url, Token: "t0ken", InsecureSkipVerify: true, ConnectTimeout: time.Second}, Version: testVersion}, testPool())
	if err != nil {
		t.Fatalf("insecure_skip_verify: %v", err)
	}
	b2.Close()
	_, err = New(Config{Conn: ConnConfig{URL: url, Token: "t0ken", CAFile: key, ConnectTimeout: time.Second}, Version: testVersion}, testPool())
	oneLine(t, "a CA file without a certificate", 0, time.Second, err, "no PEM certificate")
}
