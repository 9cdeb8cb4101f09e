package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	natsrollout "github.com/remask/remask/rollout/nats"
)

func init() { extraCommands = append(extraCommands, newNATSServerCmd) }

func newNATSServerCmd() *cobra.Command {
	var listen, dir, user, password, token, cert, key string
	cmd := &cobra.Command{
		Use:   "nats-server --dir DIR [--listen 127.0.0.1:4222]",
		Short: "Run an embedded NATS server with JetStream for rollout workers (one host, or a test)",
		Long: `nats-server runs the NATS server that an RL run with rollout.backend nats and its
remask workers meet at: JetStream with file storage in --dir (work queue,
results, policy snapshots survive a restart). It listens on loopback unless
told otherwise, and refuses an address other machines can reach without
--user/--password or --token (or REMASK_NATS_USER/REMASK_NATS_PASSWORD,
REMASK_NATS_TOKEN). A stock nats-server started with -js serves the same
protocol (docs/nats.md). SIGINT or SIGTERM stop it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if user == "" && token == "" {
				user, token = os.Getenv(natsrollout.EnvUser), os.Getenv(natsrollout.EnvToken)
			}
			if user != "" && password == "" {
				password = os.Getenv(natsrollout.EnvPassword)
			}
			log := logger()
			s, err := natsrollout.StartServer(natsrollout.ServerConfig{Listen: listen, Dir: dir, User: user, Password: password, Token: token,
				TLSCert: cert, TLSKey: key, Log: log})
			if err != nil {
				return err
			}
			log.Info().Str("url", s.ClientURL()).Str("dir", dir).Bool("auth", user != "" || token != "").Bool("tls", cert != "").Msg("nats-server ready (JetStream)")
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			s.Shutdown()
			s.WaitForShutdown()
			log.Info().Msg("nats-server stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:4222", "HOST:PORT to listen on (port 0: any free port)")
	f.StringVar(&dir, "dir", "", "JetStream storage folder (required)")
	f.StringVar(&user, "user", "", "require this user (with --password)")
	f.StringVar(&password, "password", "", "the user's password (prefer REMASK_NATS_PASSWORD: flags show in ps)")
	f.StringVar(&token, "token", "", "require this token instead (prefer REMASK_NATS_TOKEN)")
	f.StringVar(&cert, "tls-cert", "", "serve TLS with this PEM certificate (with --tls-key)")
	f.StringVar(&key, "tls-key", "", "the certificate's PEM key")
	return cmd
}
