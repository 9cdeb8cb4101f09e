// Package nats is the nats rollout backend (rollout.backend: nats): an RL
// run's rollouts are sampled by `remask worker` processes on any number of
// machines, which meet the trainer at a NATS server with JetStream. It
// implements rollout.Backend; the trainer and `remask probe` see nothing
// else of it.
//
// # Protocol
//
// Everything lives on JetStream (Setup creates it; trainer and workers both
// call it, so either may start first):
//
//   - Object store bucket remask_snapshots: each policy snapshot version is
//     put once, as RUN-vVERSION (a header with the model shape and tensor
//     names, then the float32 weights, little-endian), and its SHA-256 goes
//     in every work item. The trainer deletes versions older than
//     max_staleness behind the current one, and all of its own on Close;
//     the bucket (and the work stream) expire anything older than a day,
//     what a trainer that died leaves behind.
//   - Stream REMASK_WORK (work-queue retention, file storage, subjects
//     remask.work.RUN) with the durable pull consumer remask-workers (explicit
//     ack, ack wait rollout.nats.ack_wait, unlimited redeliveries). A
//     WorkItem is one job of rollout.Jobs, the pool's own cut of the prompts
//     into forward batches: the step, the call and the prompt range, the
//     prompts' token ids, the snapshot reference, the sampler options, the
//     run seed, the group size, max_staleness, and the trainer's remask
//     version and Protocol for a compatibility check.
//   - Stream REMASK_RESULTS (file storage, an hour at most, subjects
//     remask.results.RUN): a Result holds the job's groups (tokens, commit
//     steps, entropies as float64 bits, NFE), keyed by (run, call, first
//     prompt), or an error. The trainer reads them with an ordered consumer
//     and assembles them in index order.
//
// A worker pulls one item per thread at a time (no prefetch, so an idle
// worker never sits on work), fetches the snapshot the item names unless it
// holds it (cached by content hash), checks the hash, and samples the job
// with rollout.SampleJob: the pool's code, with the pool's random streams
// seeded from (seed, step, prompt, sample). Batches are cut by prompt index,
// never by worker count, so the rollout is bit-identical to the in-process
// pool for any number and placement of workers (given the same BLAS on every
// machine: REMASK_BLAS). While sampling, a worker tells the server the item
// is in progress every third of the ack wait; it stores the result, and only
// then acknowledges the item. A worker that dies anywhere before leaves the
// item to be redelivered to another worker after the ack wait; a result
// that arrives after its item was answered, or for an earlier call, is
// dropped (rollout/late_results).
//
// # Staleness
//
// rollout.max_staleness (default 0) lets a worker sample with a snapshot it
// already holds that is at most that many versions older than the item's,
// instead of fetching the item's: bounded off-policy lag for less snapshot
// traffic. Each group records the version it was sampled with
// (rollout.Group.Version, metric rollout/stale_groups); the trainer still
// computes its importance ratios against the step's own snapshot. With 0 a
// worker never samples a step with a stale snapshot, and runs are
// bit-identical to local ones (which is why max_staleness, unlike
// rollout.backend and rollout.nats.*, defines the run for --resume).
//
// # Failures
//
// Every wait is bounded: connecting and the JetStream check by
// rollout.nats.connect_timeout, a step by rollout.nats.step_timeout, a dead
// worker's item by the ack wait. A wrong URL, wrong credentials, a server
// without JetStream, a worker of another remask version (it refuses the
// item and reports it), a corrupt snapshot (hash mismatch) and a step no
// worker answers each end the run with one line. Clients reconnect for as
// long as it takes, so a server restart with its file store (`remask
// nats-server` with the same --dir) is survived: queued items, consumer
// state, results and snapshots are on disk, publishes are retried (items
// de-duplicated by message id) and items in flight redelivered.
//
// # Servers
//
// `remask nats-server --listen 127.0.0.1:4222 --dir DIR` runs the embedded
// server (StartServer): loopback by default, and an address other machines
// can reach only with --user/--password or --token (TLS with --tls-cert and
// --tls-key). The same protocol runs on a stock server:
//
//	nats-server -js -sd /var/lib/nats -a 0.0.0.0 -p 4222 --user remask --pass "$REMASK_NATS_PASSWORD"
//
// or a config file with jetstream {store_dir: ...}, TLS and accounts as
// usual; the account used needs JetStream enabled and permission to publish
// and subscribe on $JS.>, $O.remask_snapshots.>, remask.> and _INBOX.>. Messages stay under the
// default 1 MB max_payload (snapshots travel in 128 KB object chunks). See
// docs/nats.md for a walk-through and measured figures.
//
// Credentials are never logged: a password or token comes from the config
// (configs.Secret, redacted in the run store), the worker's flags, or
// REMASK_NATS_USER, REMASK_NATS_PASSWORD, REMASK_NATS_TOKEN,
// REMASK_NATS_CREDS, REMASK_NATS_NKEY; URLs are shown without their user
// part.
package nats
