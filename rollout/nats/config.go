package nats

import (
	"time"

	"github.com/rs/zerolog"

	"github.com/remask/remask/configs"
	"github.com/remask/remask/rollout"
)

// ConnFromConfig is the connection an RL config's rollout.nats section
// describes, with credentials from the environment where it gives none.
func ConnFromConfig(n configs.RolloutNATS) ConnConfig {
	d, _ := time.ParseDuration(n.ConnectTimeout) // validated by configs
	return ConnConfig{
		URL: n.URL, User: n.User, Password: string(n.Password), Token: string(n.Token), Creds: n.Creds, NKey: n.NKey,
		CAFile: n.TLS.CAFile, CertFile: n.TLS.CertFile, KeyFile: n.TLS.KeyFile, InsecureSkipVerify: n.TLS.InsecureSkipVerify,
		ConnectTimeout: d,
	}.WithEnv()
}

// FromConfig is the nats backend of an RL config (rollout.backend: nats):
// pc is the pool the local backend would run, version this remask's.
func FromConfig(r configs.Rollout, pc rollout.PoolConfig, version string, log zerolog.Logger) (rollout.Backend, error) {
	ack, _ := time.ParseDuration(r.NATS.AckWait) // validated by configs
	step, _ := time.ParseDuration(r.NATS.StepTimeout)
	b, err := New(Config{Conn: ConnFromConfig(r.NATS), AckWait: ack, StepTimeout: step, MaxStaleness: r.MaxStaleness, Version: version, Log: log}, pc)
	if err != nil {
		return nil, err
	}
	log.Info().Str("server", RedactURL(r.NATS.URL)).Str("run", b.Run()).Stringer("ack_wait", ack).Stringer("step_timeout", step).
		Int("max_staleness", r.MaxStaleness).Msg("rollouts on NATS workers")
	return b, nil
}
