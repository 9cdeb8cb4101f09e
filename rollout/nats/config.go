package nats

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/remask/remask/rollout"
)

// Settings are an RL config's rollout.nats section and rollout.max_staleness
// as plain values (the trainer copies them over; this package does not
// import configs). Durations are strings such as 30s.
type Settings struct {
	URL, User, Password, Token, Creds, NKey string
	CAFile, CertFile, KeyFile               string
	InsecureSkipVerify                      bool
	ConnectTimeout, AckWait, StepTimeout    string
	MaxStaleness                            int
}

// Conn is the connection the settings describe, with credentials from the
// environment where they give none (ConnConfig.WithEnv).
func (s Settings) Conn() (ConnConfig, error) {
	d, err := duration("connect_timeout", s.ConnectTimeout)
	if err != nil {
		return ConnConfig{}, err
	}
	return ConnConfig{
		URL: s.URL, User: s.User, Password: s.Password, Token: s.Token, Creds: s.Creds, NKey: s.NKey,
		CAFile: s.CAFile, CertFile: s.CertFile, KeyFile: s.KeyFile, InsecureSkipVerify: s.InsecureSkipVerify, ConnectTimeout: d,
	}.WithEnv(), nil
}

func duration(field, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("rollout.nats.%s %q: want a positive duration such as 30s", field, v)
	}
	return d, nil
}

// Open is the nats backend of an RL run (rollout.backend: nats): pc is the
// pool the local backend would run, version this remask's.
func Open(s Settings, pc rollout.PoolConfig, version string, log zerolog.Logger) (rollout.Backend, error) {
	conn, err := s.Conn()
	if err != nil {
		return nil, err
	}
	ack, err := duration("ack_wait", s.AckWait)
	if err != nil {
		return nil, err
	}
	step, err := duration("step_timeout", s.StepTimeout)
	if err != nil {
		return nil, err
	}
	b, err := New(Config{Conn: conn, AckWait: ack, StepTimeout: step, MaxStaleness: s.MaxStaleness, Version: version, Log: log}, pc)
	if err != nil {
		return nil, err
	}
	log.Info().Str("server", RedactURL(s.URL)).Str("run", b.Run()).Stringer("ack_wait", ack).Stringer("step_timeout", step).
		Int("max_staleness", s.MaxStaleness).Msg("rollouts on NATS workers")
	return b, nil
}
