package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	natsrollout "github.com/remask/remask/rollout/nats"
	"github.com/remask/remask/trainer"
)

func init() { extraCommands = append(extraCommands, newWorkerCmd) }

// natsFlags are the connection flags of `remask worker`.
type natsFlags struct {
	url, user, password, token, creds, nkey string
	ca, cert, key                           string
	insecure                                bool
	connectTimeout                          time.Duration
}

func (f *natsFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.url, "nats", os.Getenv("REMASK_NATS_URL"), "NATS server URL, e.g. nats://127.0.0.1:4222 (default $REMASK_NATS_URL)")
	fl.StringVar(&f.user, "user", "", "user name (default $"+natsrollout.EnvUser+")")
	fl.StringVar(&f.password, "password", "", "password (default $"+natsrollout.EnvPassword+"; prefer the variable: flags show in ps)")
	fl.StringVar(&f.token, "token", "", "auth token (default $"+natsrollout.EnvToken+")")
	fl.StringVar(&f.creds, "creds", "", "a .creds file: user JWT and nkey seed (default $"+natsrollout.EnvCreds+")")
	fl.StringVar(&f.nkey, "nkey", "", "a file holding an nkey seed (default $"+natsrollout.EnvNKey+")")
	fl.StringVar(&f.ca, "tls-ca", "", "PEM bundle of the CA that signed the server's certificate")
	fl.StringVar(&f.cert, "tls-cert", "", "client certificate (PEM), with --tls-key")
	fl.StringVar(&f.key, "tls-key", "", "the client certificate's key (PEM)")
	fl.BoolVar(&f.insecure, "tls-insecure-skip-verify", false, "accept any server certificate (tests only)")
	fl.DurationVar(&f.connectTimeout, "connect-timeout", 5*time.Second, "longest wait to connect and for JetStream to answer")
}

func (f *natsFlags) conn() (natsrollout.ConnConfig, error) {
	if f.url == "" {
		return natsrollout.ConnConfig{}, fmt.Errorf("--nats URL is required (or REMASK_NATS_URL), e.g. --nats nats://127.0.0.1:4222")
	}
	if f.connectTimeout <= 0 {
		return natsrollout.ConnConfig{}, fmt.Errorf("--connect-timeout %s: want a positive duration", f.connectTimeout)
	}
	return natsrollout.ConnConfig{URL: f.url, User: f.user, Password: f.password, Token: f.token, Creds: f.creds, NKey: f.nkey,
		CAFile: f.ca, CertFile: f.cert, KeyFile: f.key, InsecureSkipVerify: f.insecure, ConnectTimeout: f.connectTimeout}.WithEnv(), nil
}

func newWorkerCmd() *cobra.Command {
	var (
		nf      natsFlags
		threads int
		cache   int
	)
	cmd := &cobra.Command{
		Use:   "worker --nats URL [--threads N]",
		Short: "Serve RL rollouts from a NATS JetStream server (rollout.backend: nats): pull work items, sample, publish results",
		Long: `worker connects to the NATS server an RL run's rollout.nats.url names and
samples its work items: each names a policy snapshot (fetched once from the
server's object store, hash-checked and cached by version), prompts, sampler
options and seeds, and is sampled with the in-process pool's code, so the run's
rollouts are bit-identical whatever the number and placement of workers.
Start as many workers as you like, on any machines, before or during a run;
one that stops (or dies) hands its item to another. SIGINT or SIGTERM stop it.
Credentials come from the flags or REMASK_NATS_USER, REMASK_NATS_PASSWORD,
REMASK_NATS_TOKEN, REMASK_NATS_CREDS, REMASK_NATS_NKEY. See docs/nats.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, err := nf.conn()
			if err != nil {
				return err
			}
			if threads < 0 || threads > 1<<16 {
				return fmt.Errorf("--threads %d: want 0 (one per core) to 65536", threads)
			}
			if threads == 0 {
				threads = runtime.GOMAXPROCS(0)
			}
			if cache < 1 || cache > 64 {
				return fmt.Errorf("--cache %d: want 1 to 64 snapshots", cache)
			}
			var delay time.Duration
			if d := os.Getenv("REMASK_WORKER_DELAY"); d != "" { // test hook: hold every item this long
				if delay, err = time.ParseDuration(d); err != nil || delay < 0 {
					return fmt.Errorf("REMASK_WORKER_DELAY=%q: want a duration such as 500ms", d)
				}
			}
			w, err := natsrollout.NewWorker(natsrollout.WorkerConfig{Conn: conn, Threads: threads, Version: trainer.Version, Log: logger(), Cache: cache, Delay: delay})
			if err != nil {
				return err
			}
			defer w.Close()
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return w.Run(ctx)
		},
	}
	nf.add(cmd)
	cmd.Flags().IntVar(&threads, "threads", 0, "items sampled at once, one core each (0 = one per core)")
	cmd.Flags().IntVar(&cache, "cache", 2, "policy snapshots kept in memory")
	return cmd
}
