package nats

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/remask/remask/model"
	"github.com/remask/remask/rollout"
)

// Protocol is the version of the messages below. A worker refuses an item
// of another protocol or another remask version (WorkItem.Version).
const Protocol = 1

// The JetStream names every trainer and worker agree on. A trainer's items
// and results are under subjects of its own run id, so several trainers can
// share one server and one fleet of workers.
const (
	WorkStream    = "REMASK_WORK"      // work-queue stream of work items
	WorkSubjects  = "remask.work.>"    // its subjects: remask.work.RUN
	ResultStream  = "REMASK_RESULTS"   // results (file storage, kept an hour at most)
	ResultSubject = "remask.results.>" // its subjects: remask.results.RUN
	ConsumerName  = "remask-workers"   // the durable pull consumer all workers share
	Bucket        = "remask_snapshots" // object store of policy snapshots: RUN-vVERSION
)

func workSubject(run string) string   { return "remask.work." + run }
func resultSubject(run string) string { return "remask.results." + run }
func snapshotName(run string, version int) string {
	return fmt.Sprintf("%s-v%d", run, version)
}

// SnapshotRef names a snapshot object and the hash its content must have.
type SnapshotRef struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	SHA256  string `json:"sha256"`
	Bytes   int64  `json:"bytes"`
}

// WorkItem is one job of a RolloutFrom call (rollout.Jobs): the prompts
// [Lo, Lo+len(Prompts)) of call Call, sampled as rollout.SampleJob samples
// them. It carries everything a worker needs but the weights, which it
// names.
type WorkItem struct {
	Protocol     int             `json:"protocol"`
	Version      string          `json:"version"` // remask version of the trainer
	Run          string          `json:"run"`     // the trainer's run id (subjects, snapshot names)
	Call         uint64          `json:"call"`    // the RolloutFrom call, counted from 1 in the run
	Step         int             `json:"step"`
	First        int             `json:"first"` // the call's first prompt number in the step's streams
	Lo           int             `json:"lo"`    // this job's first prompt in the call
	Prompts      [][]int         `json:"prompts"`
	Group        int             `json:"group"`
	Seed         uint64          `json:"seed"`
	Options      rollout.Options `json:"options"`
	Snapshot     SnapshotRef     `json:"snapshot"`
	MaxStaleness int             `json:"max_staleness"` // a cached snapshot this many versions older may serve
	AckWaitMS    int64           `json:"ack_wait_ms"`   // the consumer's ack wait: report progress within it
}

// key names an item in its call.
func (w *WorkItem) msgID() string { return fmt.Sprintf("%s.%d.%d", w.Run, w.Call, w.Lo) }

// WireGroup is a rollout.Group on the wire; entropies travel as their bits
// so that every value (NaN included) comes back exactly.
type WireGroup struct {
	Tokens  [][]int  `json:"tokens"`
	Trace   [][]int  `json:"trace"`
	Entropy []uint64 `json:"entropy_bits"`
	NFE     int      `json:"nfe"`
}

// Error kinds of a Result.
const (
	ErrVersion  = "version"  // the worker runs another remask or protocol
	ErrSnapshot = "snapshot" // the snapshot is missing or corrupt
	ErrSample   = "sample"   // sampling failed
	ErrItem     = "item"     // the item cannot be read
)

// Result is a worker's answer to one work item: its groups, or an error.
type Result struct {
	Run       string      `json:"run"`
	Call      uint64      `json:"call"`
	Step      int         `json:"step"`
	Lo        int         `json:"lo"`
	Worker    string      `json:"worker"`    // host/pid/thread
	Delivered uint64      `json:"delivered"` // how many times the server has delivered the item (> 1: redelivered)
	Version   int         `json:"version"`   // snapshot version sampled with
	Groups    []WireGroup `json:"groups,omitempty"`
	ErrKind   string      `json:"err_kind,omitempty"`
	Err       string      `json:"err,omitempty"`
	SampleMS  float64     `json:"sample_ms"` // time spent sampling
	FetchMS   float64     `json:"fetch_ms"`  // time spent fetching the snapshot (0 when cached)
}

func toWire(gs []rollout.Group) []WireGroup {
	out := make([]WireGroup, len(gs))
	for i, g := range gs {
		e := make([]uint64, len(g.Entropy))
		for j, v := range g.Entropy {
			e[j] = math.Float64bits(v)
		}
		out[i] = WireGroup{Tokens: g.Tokens, Trace: g.Trace, Entropy: e, NFE: g.NFE}
	}
	return out
}

// groups turns a result back into the call's groups, checking its shape
// against the item so that a malformed result cannot pass for a rollout.
func (r *Result) groups(it *WorkItem) ([]rollout.Group, error) {
	if len(r.Groups) != len(it.Prompts) {
		return nil, fmt.Errorf("%d groups for %d prompts", len(r.Groups), len(it.Prompts))
	}
	out := make([]rollout.Group, len(r.Groups))
	for i, w := range r.Groups {
		if len(w.Tokens) != it.Group || len(w.Trace) != it.Group || len(w.Entropy) != it.Group {
			return nil, fmt.Errorf("group %d has %d completions, want %d", it.Lo+i, len(w.Tokens), it.Group)
		}
		for s := range w.Tokens {
			if len(w.Tokens[s]) != it.Options.GenLength || len(w.Trace[s]) != it.Options.GenLength {
				return nil, fmt.Errorf("group %d completion %d has %d tokens, want %d", it.Lo+i, s, len(w.Tokens[s]), it.Options.GenLength)
			}
		}
		e := make([]float64, len(w.Entropy))
		for j, b := range w.Entropy {
			e[j] = math.Float64frombits(b)
		}
		out[i] = rollout.Group{Prompt: it.Lo + i, Version: r.Version, Tokens: w.Tokens, Trace: w.Trace, Entropy: e, NFE: w.NFE}
	}
	return out, nil
}

// The snapshot format: magic, a little-endian uint32 header length, the JSON
// header (version, model shape, tensor names and shapes in order), then every
// tensor's float32 values, little-endian, in that order.
const snapshotMagic = "REMASK-SNAPSHOT-1\n"

type snapshotHeader struct {
	Version int            `json:"version"`
	Config  model.Config   `json:"config"`
	Tensors []tensorHeader `json:"tensors"`
}

type tensorHeader struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

// EncodeSnapshot serialises a policy snapshot and returns it with its
// SHA-256 in hex.
func EncodeSnapshot(p *model.Params, version int) ([]byte, string, error) {
	h := snapshotHeader{Version: version, Config: p.Config}
	n := 0
	for _, t := range p.Tensors {
		h.Tensors = append(h.Tensors, tensorHeader{Name: t.Name, Shape: t.Shape})
		n += len(t.Data)
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return nil, "", err
	}
	b := make([]byte, 0, len(snapshotMagic)+4+len(hj)+4*n)
	b = append(b, snapshotMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(hj)))
	b = append(b, hj...)
	for _, t := range p.Tensors {
		for _, v := range t.Data {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:]), nil
}

// DecodeSnapshot checks a snapshot's hash against want and reads it back.
func DecodeSnapshot(b []byte, want string) (*model.Params, int, error) {
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != want {
		return nil, 0, fmt.Errorf("content hash %.12s... is not the %.12s... the trainer published: the stored object is corrupt", got, want)
	}
	if !bytes.HasPrefix(b, []byte(snapshotMagic)) || len(b) < len(snapshotMagic)+4 {
		return nil, 0, fmt.Errorf("not a remask snapshot")
	}
	b = b[len(snapshotMagic):]
	hl := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	if hl > len(b) {
		return nil, 0, fmt.Errorf("snapshot header of %d bytes in %d", hl, len(b))
	}
	var h snapshotHeader
	if err := json.Unmarshal(b[:hl], &h); err != nil {
		return nil, 0, fmt.Errorf("snapshot header: %w", err)
	}
	b = b[hl:]
	ts := make([]model.Tensor, len(h.Tensors))
	for i, th := range h.Tensors {
		n := 1
		for _, s := range th.Shape {
			if s < 0 || s > math.MaxInt32 {
				return nil, 0, fmt.Errorf("tensor %s: shape %v", th.Name, th.Shape)
			}
			n *= s
		}
		if 4*n > len(b) {
			return nil, 0, fmt.Errorf("tensor %s: %d values, %d bytes left", th.Name, n, len(b))
		}
		d := make([]float32, n)
		for j := range d {
			d[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
		}
		b = b[4*n:]
		ts[i] = model.Tensor{Name: th.Name, Shape: th.Shape, Data: d}
	}
	if len(b) != 0 {
		return nil, 0, fmt.Errorf("%d bytes after the last tensor", len(b))
	}
	p, err := model.FromTensors(h.Config, ts)
	if err != nil {
		return nil, 0, err
	}
	return p, h.Version, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
