package nats

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConnConfig says how to reach a NATS server: the trainer's from
// rollout.nats, a worker's from its flags. Credentials left empty are taken
// from the environment (WithEnv).
type ConnConfig struct {
	URL                string        // nats://HOST:PORT, tls://HOST:PORT, comma-separated for a cluster
	User, Password     string        // user and password
	Token              string        // or a token
	Creds              string        // or a .creds file (JWT + nkey seed)
	NKey               string        // or an nkey seed file
	CAFile             string        // TLS: the CA that signed the server's certificate
	CertFile, KeyFile  string        // TLS: a client certificate
	InsecureSkipVerify bool          // TLS: accept any server certificate (tests only)
	ConnectTimeout     time.Duration // dial, handshake and the JetStream check (0 = 5s)
	Name               string        // the client's name in the server's monitoring
}

// The environment variables credentials come from when not given otherwise.
const (
	EnvUser     = "REMASK_NATS_USER"
	EnvPassword = "REMASK_NATS_PASSWORD"
	EnvToken    = "REMASK_NATS_TOKEN"
	EnvCreds    = "REMASK_NATS_CREDS"
	EnvNKey     = "REMASK_NATS_NKEY"
)

// WithEnv fills the credentials from REMASK_NATS_* when none is given, and
// the password of a given user from REMASK_NATS_PASSWORD.
func (c ConnConfig) WithEnv() ConnConfig {
	if c.User == "" && c.Token == "" && c.Creds == "" && c.NKey == "" {
		c.User, c.Token, c.Creds, c.NKey = os.Getenv(EnvUser), os.Getenv(EnvToken), os.Getenv(EnvCreds), os.Getenv(EnvNKey)
	}
	if c.User != "" && c.Password == "" {
		c.Password = os.Getenv(EnvPassword)
	}
	return c
}

// RedactURL is a server URL for messages: any user, password or token in it
// is replaced.
func RedactURL(s string) string {
	var parts []string
	for _, one := range strings.Split(s, ",") {
		one = strings.TrimSpace(one)
		if u, err := url.Parse(one); err == nil && u.User != nil {
			u.User = nil
			one = strings.Replace(u.String(), "//", "//(redacted)@", 1)
		} else if err != nil {
			if at := strings.LastIndex(one, "@"); at >= 0 {
				one = "(redacted)" + one[at:]
			}
		}
		parts = append(parts, one)
	}
	return strings.Join(parts, ",")
}

func (c ConnConfig) timeout() time.Duration {
	if c.ConnectTimeout <= 0 {
		return 5 * time.Second
	}
	return c.ConnectTimeout
}

// options turns the config into the client's options; a credential or TLS
// file that cannot be read is an error here, before any dial.
func (c ConnConfig) options() ([]natsgo.Option, error) {
	opts := []natsgo.Option{
		natsgo.Name(c.Name),
		natsgo.Timeout(c.timeout()),
		// reconnect for as long as it takes: the caller's own deadlines
		// (step timeout, ack wait) bound every wait
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(250 * time.Millisecond),
		natsgo.ReconnectJitter(250*time.Millisecond, time.Second),
		natsgo.PingInterval(10 * time.Second),
		natsgo.NoCallbacksAfterClientClose(),
	}
	ways := 0
	if c.User != "" {
		ways++
		opts = append(opts, natsgo.UserInfo(c.User, c.Password))
	} else if c.Password != "" {
		return nil, fmt.Errorf("a NATS password without a user")
	}
	if c.Token != "" {
		ways++
		opts = append(opts, natsgo.Token(c.Token))
	}
	if c.Creds != "" {
		ways++
		if _, err := os.Stat(c.Creds); err != nil {
			return nil, fmt.Errorf("NATS creds file: %w", err)
		}
		opts = append(opts, natsgo.UserCredentials(c.Creds))
	}
	if c.NKey != "" {
		ways++
		o, err := natsgo.NkeyOptionFromSeed(c.NKey)
		if err != nil {
			return nil, fmt.Errorf("NATS nkey seed file: %w", err)
		}
		opts = append(opts, o)
	}
	if ways > 1 {
		return nil, fmt.Errorf("NATS credentials: give one of user/password, token, creds or nkey (counting %s, %s, %s, %s)", EnvUser, EnvToken, EnvCreds, EnvNKey)
	}
	if c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.InsecureSkipVerify {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureSkipVerify}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("TLS CA file: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("TLS CA file %s: no PEM certificate in it", c.CAFile)
			}
		}
		if (c.CertFile == "") != (c.KeyFile == "") {
			return nil, fmt.Errorf("TLS client certificate: give the cert file and the key file together")
		}
		if c.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("TLS client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, natsgo.Secure(tc))
	}
	return opts, nil
}

// Connect dials the server and checks that it runs JetStream, all within
// the connect timeout. Each failure is one line that names the server
// (without credentials) and what to do about it. events, if not nil, hears
// of disconnections and reconnections.
func Connect(c ConnConfig, events func(string)) (*natsgo.Conn, jetstream.JetStream, error) {
	where := RedactURL(c.URL)
	if strings.TrimSpace(c.URL) == "" {
		return nil, nil, fmt.Errorf("nats: no server URL given")
	}
	opts, err := c.options()
	if err != nil {
		return nil, nil, fmt.Errorf("nats %s: %w", where, err)
	}
	if events != nil {
		opts = append(opts,
			natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
				if err != nil {
					events(fmt.Sprintf("disconnected from %s: %v", where, err))
				}
			}),
			natsgo.ReconnectHandler(func(nc *natsgo.Conn) { events("reconnected to " + RedactURL(nc.ConnectedUrlRedacted())) }),
			natsgo.ErrorHandler(func(_ *natsgo.Conn, _ *natsgo.Subscription, err error) { events("nats: " + err.Error()) }),
		)
	}
	nc, err := natsgo.Connect(c.URL, opts...)
	if err != nil {
		return nil, nil, connectError(where, c.timeout(), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("nats %s: %w", where, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout())
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		nc.Close()
		switch {
		case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
			return nil, nil, fmt.Errorf("nats %s: the server has no JetStream: start it with `remask nats-server` or `nats-server -js`", where)
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, natsgo.ErrTimeout):
			return nil, nil, fmt.Errorf("nats %s: JetStream did not answer within %s", where, c.timeout())
		}
		return nil, nil, fmt.Errorf("nats %s: JetStream: %v", where, err)
	}
	return nc, js, nil
}

func connectError(where string, timeout time.Duration, err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, natsgo.ErrAuthorization), strings.Contains(strings.ToLower(msg), "authorization violation"):
		return fmt.Errorf("nats %s: the server refused the credentials (authorization violation): check the user and password, token, creds or nkey (flags, config or REMASK_NATS_*)", where)
	case errors.Is(err, natsgo.ErrNoServers), strings.Contains(msg, "connection refused"), strings.Contains(msg, "no such host"):
		return fmt.Errorf("nats %s: cannot connect (%v): is the server running there? (remask nats-server --listen ADDR --dir DIR)", where, err)
	case errors.Is(err, natsgo.ErrTimeout), strings.Contains(msg, "i/o timeout"):
		return fmt.Errorf("nats %s: no answer within %s", where, timeout)
	case strings.Contains(msg, "tls") || strings.Contains(msg, "x509") || strings.Contains(msg, "certificate"):
		return fmt.Errorf("nats %s: TLS: %v", where, err)
	}
	return fmt.Errorf("nats %s: %v", where, err)
}

// abandoned is how long work items and snapshots are kept at most: a
// trainer deletes its own when done, a trainer that died leaves them to
// expire. Every step stores its snapshot anew, so only a single step longer
// than this would lose one.
const abandoned = 24 * time.Hour

// Setup creates what the protocol needs on the server, where it is missing:
// the work-queue stream, the workers' durable consumer, the results stream
// and the snapshot bucket. What exists is used as it is, so an operator may
// create them beforehand with other settings (replicas on a cluster,
// limits). A trainer passes its ackWait, which it sets on the consumer; a
// worker passes 0 and keeps the consumer's (30s if it creates it).
func Setup(ctx context.Context, js jetstream.JetStream, ackWait time.Duration) (jetstream.Stream, jetstream.Consumer, error) {
	work, err := ensureStream(ctx, js, jetstream.StreamConfig{
		Name: WorkStream, Description: "remask rollout work items", Subjects: []string{WorkSubjects},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute,
		MaxAge: abandoned, // the items of a trainer that died without cleaning up
	})
	if err != nil {
		return nil, nil, err
	}
	if _, err := ensureStream(ctx, js, jetstream.StreamConfig{
		Name: ResultStream, Description: "remask rollout results", Subjects: []string{ResultSubject},
		Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage, MaxAge: time.Hour,
	}); err != nil {
		return nil, nil, err
	}
	cons, err := js.Consumer(ctx, WorkStream, ConsumerName)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		cc := jetstream.ConsumerConfig{
			Durable: ConsumerName, Description: "remask rollout workers", FilterSubject: WorkSubjects,
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait, MaxDeliver: -1, MaxAckPending: -1,
			DeliverPolicy: jetstream.DeliverAllPolicy,
		}
		if cc.AckWait <= 0 {
			cc.AckWait = 30 * time.Second
		}
		if cons, err = js.CreateConsumer(ctx, WorkStream, cc); errors.Is(err, jetstream.ErrConsumerExists) {
			cons, err = js.Consumer(ctx, WorkStream, ConsumerName) // another client was first
		}
	case err == nil && ackWait > 0 && cons.CachedInfo().Config.AckWait != ackWait:
		cc := cons.CachedInfo().Config
		cc.AckWait = ackWait
		cons, err = js.UpdateConsumer(ctx, WorkStream, cc)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("consumer %s: %w", ConsumerName, err)
	}
	if _, err := js.ObjectStore(ctx, Bucket); errors.Is(err, jetstream.ErrBucketNotFound) {
		_, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket: Bucket, Description: "remask policy snapshots", Storage: jetstream.FileStorage, TTL: abandoned,
		})
		if err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
			return nil, nil, fmt.Errorf("object store %s: %w", Bucket, err)
		}
	} else if err != nil {
		return nil, nil, fmt.Errorf("object store %s: %w", Bucket, err)
	}
	return work, cons, nil
}

// ensureStream returns the named stream, creating it with cfg if missing.
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if s, err = js.CreateStream(ctx, cfg); errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = js.Stream(ctx, cfg.Name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", cfg.Name, err)
	}
	return s, nil
}
