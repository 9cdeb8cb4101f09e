package nats

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// ServerConfig configures the embedded NATS server (`remask nats-server`).
type ServerConfig struct {
	Listen      string // HOST:PORT (port 0 = any free port)
	Dir         string // JetStream file storage: streams, consumers and snapshots survive a restart
	User        string // with Password: clients must give them
	Password    string
	Token       string // or a token
	TLSCert     string // PEM certificate and key: clients connect with TLS
	TLSKey      string
	NoJetStream bool // a plain NATS server (tests of the error a trainer then gives)
	Log         zerolog.Logger
}

// IsLoopback reports whether HOST:PORT binds to this machine only.
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// StartServer starts an embedded NATS server with JetStream in cfg.Dir and
// waits until it accepts clients. It refuses to listen beyond loopback
// without authentication.
func StartServer(cfg ServerConfig) (*server.Server, error) {
	host, portText, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: want HOST:PORT, e.g. 127.0.0.1:4222", cfg.Listen)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("--listen %q: port %q is not in 0-65535", cfg.Listen, portText)
	}
	if cfg.Password != "" && cfg.User == "" {
		return nil, fmt.Errorf("a password needs a user (--user)")
	}
	if cfg.User != "" && cfg.Password == "" {
		return nil, fmt.Errorf("user %q needs a password (--password or %s)", cfg.User, EnvPassword)
	}
	if cfg.User != "" && cfg.Token != "" {
		return nil, fmt.Errorf("give user and password, or a token, not both")
	}
	auth := cfg.User != "" || cfg.Token != ""
	if !IsLoopback(cfg.Listen) && !auth {
		return nil, fmt.Errorf("--listen %s is reachable from other machines: give --user and --password, or --token (or %s/%s, %s), so that only your workers connect; or listen on 127.0.0.1",
			cfg.Listen, EnvUser, EnvPassword, EnvToken)
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if !cfg.NoJetStream {
		if cfg.Dir == "" {
			return nil, fmt.Errorf("--dir is required: JetStream keeps its streams and snapshots there")
		}
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("--dir: %w", err)
		}
	}
	// a taken port fails here, in one line, not in the server's accept loop
	if port != 0 {
		l, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("--listen %s: %w", cfg.Listen, err)
		}
		l.Close()
	}
	if port == 0 {
		port = server.RANDOM_PORT // the server's 0 means its default, 4222
	}
	opts := &server.Options{
		ServerName: "remask", Host: host, Port: port, JetStream: !cfg.NoJetStream, StoreDir: cfg.Dir,
		Username: cfg.User, Password: cfg.Password, Authorization: cfg.Token,
		NoSigs: true,
	}
	if cfg.TLSCert != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey})
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		opts.TLS, opts.TLSConfig, opts.TLSTimeout = true, tc, 5
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	lg := &serverLog{log: cfg.Log}
	s.SetLoggerV2(lg, false, false, false)
	go s.Start()
	for deadline := time.Now().Add(30 * time.Second); !s.ReadyForConnections(100 * time.Millisecond); {
		if f := lg.fatal(); f != "" {
			s.Shutdown()
			return nil, fmt.Errorf("nats server: %s", f)
		}
		if time.Now().After(deadline) {
			s.Shutdown()
			return nil, errors.New("nats server: not ready for connections within 30s")
		}
	}
	if !cfg.NoJetStream && !s.JetStreamEnabled() {
		s.Shutdown()
		return nil, fmt.Errorf("nats server: JetStream did not start: %s", lg.fatal())
	}
	return s, nil
}

// serverLog sends the server's notices, warnings and errors to zerolog and
// keeps its fatal message for StartServer's error: a fatal error must not
// exit the process the server is embedded in.
type serverLog struct {
	log     zerolog.Logger
	mu      sync.Mutex
	fatalTx string
}

func (l *serverLog) fatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatalTx
}

func (l *serverLog) Noticef(f string, v ...any) { l.log.Debug().Msg(fmt.Sprintf(f, v...)) }
func (l *serverLog) Warnf(f string, v ...any)   { l.log.Warn().Msg(fmt.Sprintf(f, v...)) }
func (l *serverLog) Errorf(f string, v ...any)  { l.log.Error().Msg(fmt.Sprintf(f, v...)) }
func (l *serverLog) Debugf(string, ...any)      {}
func (l *serverLog) Tracef(string, ...any)      {}
func (l *serverLog) Fatalf(f string, v ...any) {
	m := strings.TrimSpace(fmt.Sprintf(f, v...))
	l.mu.Lock()
	l.fatalTx = m
	l.mu.Unlock()
	l.log.Error().Msg(m)
}
