#include "textflag.h"

// AVX2 versions of siluMul32 and of softmaxMasked's exponentials, four
// float64 lanes at a time. They perform the scalar Go code's operations in
// its order, each one rounded (no fused multiply-add), so the results are
// the same bits; exp.go has the reduction, exp_amd64.go the constants.
//
// Registers held through the loops: Y15 32log2e, Y14 roundShift, Y13 ln2/32,
// Y12 1, Y11 1/2, Y10 1/6, Y7 -120; DI points at the constants, whose
// exp2Frac table starts at offset 352.

#define LOADCONSTS \
	VMOVUPD 0(DI), Y15; \
	VMOVUPD 32(DI), Y14; \
	VMOVUPD 64(DI), Y13; \
	VMOVUPD 96(DI), Y12; \
	VMOVUPD 128(DI), Y11; \
	VMOVUPD 160(DI), Y10; \
	VMOVUPD 192(DI), Y7

// EXP sets Y4 = e^Y1 by expReduced's steps; it overwrites Y2, Y3, Y5, Y8.
#define EXP \
	VMULPD Y15, Y1, Y2; \
	VADDPD Y14, Y2, Y2; \
	VSUBPD Y14, Y2, Y3; \
	VPSUBQ Y14, Y2, Y2; \
	VMULPD Y13, Y3, Y3; \
	VSUBPD Y3, Y1, Y3; \
	VMULPD Y10, Y3, Y4; \
	VADDPD Y11, Y4, Y4; \
	VMULPD Y3, Y4, Y4; \
	VADDPD Y12, Y4, Y4; \
	VMULPD Y3, Y4, Y4; \
	VADDPD Y12, Y4, Y4; \
	VPAND 288(DI), Y2, Y3; \
	VPCMPEQQ Y5, Y5, Y5; \
	VGATHERQPD Y5, 352(DI)(Y3*8), Y8; \
	VPADDQ 320(DI), Y2, Y2; \
	VPSRLQ $5, Y2, Y2; \
	VPSLLQ $52, Y2, Y2; \
	VMULPD Y8, Y4, Y4; \
	VMULPD Y2, Y4, Y4

// func siluMulAVX2(gp, up, op *float32, n int, c *expConsts)
// o[j] = float32(x / (1 + e^y) * u[j]), x = g[j], y = -x clamped to
// [-120, 700] (NaN stays NaN); n is a positive multiple of 4.
TEXT ·siluMulAVX2(SB), NOSPLIT, $0-40
	MOVQ gp+0(FP), AX
	MOVQ up+8(FP), BX
	MOVQ op+16(FP), CX
	MOVQ n+24(FP), DX
	MOVQ c+32(FP), DI
	LOADCONSTS
	VMOVUPD 224(DI), Y6
	SHRQ $2, DX

siluLoop:
	VCVTPS2PD (AX), Y0
	VXORPD 256(DI), Y0, Y1
	VMINPD Y1, Y6, Y1
	VMAXPD Y1, Y7, Y1
	EXP
	VADDPD Y12, Y4, Y4
	VDIVPD Y4, Y0, Y0
	VCVTPS2PD (BX), Y1
	VMULPD Y1, Y0, Y0
	VCVTPD2PSY Y0, X0
	VMOVUPS X0, (CX)
	ADDQ $16, AX
	ADDQ $16, BX
	ADDQ $16, CX
	DECQ DX
	JNZ siluLoop
	VZEROUPPER
	RET

// func expShiftAVX2(row *float32, n int, mx, sum float64, c *expConsts) float64
// For each j: e = e^max(row[j] - mx, -120) (NaN stays NaN), row[j] =
// float32(e), sum += e in order; returns sum. n is a positive multiple of 4.
TEXT ·expShiftAVX2(SB), NOSPLIT, $0-48
	MOVQ row+0(FP), AX
	MOVQ n+8(FP), DX
	VBROADCASTSD mx+16(FP), Y6
	VMOVSD sum+24(FP), X9
	MOVQ c+32(FP), DI
	LOADCONSTS
	SHRQ $2, DX

expLoop:
	VCVTPS2PD (AX), Y0
	VSUBPD Y6, Y0, Y1
	VMAXPD Y1, Y7, Y1
	EXP
	VCVTPD2PSY Y4, X0
	VMOVUPS X0, (AX)
	VADDSD X4, X9, X9
	VPERMILPD $1, X4, X3
	VADDSD X3, X9, X9
	VEXTRACTF128 $1, Y4, X3
	VADDSD X3, X9, X9
	VPERMILPD $1, X3, X3
	VADDSD X3, X9, X9
	ADDQ $16, AX
	DECQ DX
	JNZ expLoop
	VMOVSD X9, ret+40(FP)
	VZEROUPPER
	RET
