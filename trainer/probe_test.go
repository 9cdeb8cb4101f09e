package trainer

import (
	"context"
	"math"
	"testing"

	"github.com/rs/zerolog"
)

func TestCosineByHand(t *testing.T) {
	if c := cosine([]float64{1, 0}, []float64{1, 1}); math.Abs(c-1/math.Sqrt2) > 1e-15 {
		t.Fatalf("cos 45 degrees = %v", c)
	}
	if c := cosine([]float64{3, -4}, []float64{-6, 8}); c != -1 {
		t.Fatalf("opposite: %v", c)
	}
	if c := cosine([]float64{0, 0}, []float64{1, 2}); c != 0 {
		t.Fatalf("zero vector: %v", c)
	}
}

// diffu-GRPO without prompt masking has no random mask (the completion is
// all masked), so two mask draws give the same gradient; UniGRPO's random
// ratio and positions do not.
func TestProbe(t *testing.T) {
	dir := t.TempDir()
	opt := ProbeOptions{Prompts: 12, Splits: 2, Log: zerolog.Nop()}
	det, err := Probe(context.Background(), rlRun(t, dir, "p1", "diffu_grpo", "algo.p_mask_prompt=0"), opt)
	if err != nil {
		t.Fatal(err)
	}
	if det.SignalGroups < 2 || det.Prompts != 12 || det.Group != 3 || math.Abs(det.MaskAgreement-1) > 1e-9 {
		t.Fatalf("diffu_grpo, p_mask_prompt 0: %+v", det)
	}
	uni, err := Probe(context.Background(), rlRun(t, dir, "p2", "unigrpo", "algo.mu=1"), opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []float64{uni.HalfAgreement, uni.MaskAgreement, uni.SupervisedAlignment} {
		if !(c >= -1 && c <= 1) {
			t.Fatalf("cosine out of range: %+v", uni)
		}
	}
	if uni.MaskAgreement > 0.999 {
		t.Fatalf("unigrpo masks are random, yet two draws agree: %+v", uni)
	}
	if _, err := Probe(context.Background(), smallRun(t, dir, "sft"), opt); err == nil {
		t.Fatal("probe accepted an SFT config")
	}
}
