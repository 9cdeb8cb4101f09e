#include "textflag.h"

// AVX-512 versions of exp_amd64.s's kernels, eight float64 lanes at a time:
// the same operations in the same order, each rounded (no fused
// multiply-add), so the results are the same bits as the scalar code. The
// constants are exp_amd64.go's expConsts, broadcast from their first lane.
//
// Registers held through the loops: Z15 32log2e, Z14 roundShift, Z13
// ln2/32, Z12 1, Z11 1/2, Z10 1/6, Z7 -120, Z16 mask31, Z17 bias; DI points
// at the constants, whose exp2Frac table starts at offset 352.

#define LOADCONSTS512 \
	VBROADCASTSD 0(DI), Z15; \
	VBROADCASTSD 32(DI), Z14; \
	VBROADCASTSD 64(DI), Z13; \
	VBROADCASTSD 96(DI), Z12; \
	VBROADCASTSD 128(DI), Z11; \
	VBROADCASTSD 160(DI), Z10; \
	VBROADCASTSD 192(DI), Z7; \
	VPBROADCASTQ 288(DI), Z16; \
	VPBROADCASTQ 320(DI), Z17

// EXP512 sets Z4 = e^Z1 by expReduced's steps; it overwrites Z2, Z3, Z8, K1.
#define EXP512 \
	VMULPD Z15, Z1, Z2; \
	VADDPD Z14, Z2, Z2; \
	VSUBPD Z14, Z2, Z3; \
	VPSUBQ Z14, Z2, Z2; \
	VMULPD Z13, Z3, Z3; \
	VSUBPD Z3, Z1, Z3; \
	VMULPD Z10, Z3, Z4; \
	VADDPD Z11, Z4, Z4; \
	VMULPD Z3, Z4, Z4; \
	VADDPD Z12, Z4, Z4; \
	VMULPD Z3, Z4, Z4; \
	VADDPD Z12, Z4, Z4; \
	VPANDQ Z16, Z2, Z3; \
	KXNORW K1, K1, K1; \
	VGATHERQPD 352(DI)(Z3*8), K1, Z8; \
	VPADDQ Z17, Z2, Z2; \
	VPSRLQ $5, Z2, Z2; \
	VPSLLQ $52, Z2, Z2; \
	VMULPD Z8, Z4, Z4; \
	VMULPD Z2, Z4, Z4

// func siluMulAVX512(gp, up, op *float32, n int, c *expConsts)
// siluMulAVX2 eight at a time; n is a positive multiple of 8.
TEXT ·siluMulAVX512(SB), NOSPLIT, $0-40
	MOVQ gp+0(FP), AX
	MOVQ up+8(FP), BX
	MOVQ op+16(FP), CX
	MOVQ n+24(FP), DX
	MOVQ c+32(FP), DI
	LOADCONSTS512
	VBROADCASTSD 224(DI), Z6
	VPBROADCASTQ 256(DI), Z18
	SHRQ $3, DX

siluLoop512:
	VCVTPS2PD (AX), Z0
	VPXORQ Z18, Z0, Z1
	VMINPD Z1, Z6, Z1
	VMAXPD Z1, Z7, Z1
	EXP512
	VADDPD Z12, Z4, Z4
	VDIVPD Z4, Z0, Z0
	VCVTPS2PD (BX), Z1
	VMULPD Z1, Z0, Z0
	VCVTPD2PS Z0, Y0
	VMOVUPS Y0, (CX)
	ADDQ $32, AX
	ADDQ $32, BX
	ADDQ $32, CX
	DECQ DX
	JNZ siluLoop512
	VZEROUPPER
	RET

// func expShiftAVX512(row *float32, n int, mx, sum float64, c *expConsts) float64
// expShiftAVX2 eight at a time, the sum still in order; n is a positive
// multiple of 8.
TEXT ·expShiftAVX512(SB), NOSPLIT, $0-48
	MOVQ row+0(FP), AX
	MOVQ n+8(FP), DX
	VBROADCASTSD mx+16(FP), Z6
	VMOVSD sum+24(FP), X9
	MOVQ c+32(FP), DI
	LOADCONSTS512
	SHRQ $3, DX

expLoop512:
	VCVTPS2PD (AX), Z0
	VSUBPD Z6, Z0, Z1
	VMAXPD Z1, Z7, Z1
	EXP512
	VCVTPD2PS Z4, Y0
	VMOVUPS Y0, (AX)
	VADDSD X4, X9, X9
	VPERMILPD $1, X4, X3
	VADDSD X3, X9, X9
	VEXTRACTF32X4 $1, Z4, X3
	VADDSD X3, X9, X9
	VPERMILPD $1, X3, X3
	VADDSD X3, X9, X9
	VEXTRACTF32X4 $2, Z4, X3
	VADDSD X3, X9, X9
	VPERMILPD $1, X3, X3
	VADDSD X3, X9, X9
	VEXTRACTF32X4 $3, Z4, X3
	VADDSD X3, X9, X9
	VPERMILPD $1, X3, X3
	VADDSD X3, X9, X9
	ADDQ $32, AX
	DECQ DX
	JNZ expLoop512
	VMOVSD X9, ret+40(FP)
	VZEROUPPER
	RET

// func scaleRowAVX512(row *float32, n int, s float64)
// row[j] = float32(float64(row[j]) * s) for a positive multiple of 8 n:
// softmaxMasked's normalisation.
TEXT ·scaleRowAVX512(SB), NOSPLIT, $0-24
	MOVQ row+0(FP), AX
	MOVQ n+8(FP), DX
	VBROADCASTSD s+16(FP), Z6
	SHRQ $3, DX

scaleLoop512:
	VCVTPS2PD (AX), Z0
	VMULPD Z6, Z0, Z0
	VCVTPD2PS Z0, Y0
	VMOVUPS Y0, (AX)
	ADDQ $32, AX
	DECQ DX
	JNZ scaleLoop512
	VZEROUPPER
	RET

// func ropeHeadsAVX512(x *float32, heads, half int, cos, sin *float64, out *float32)
// ropeApply (not inverse) on heads consecutive vectors of 2*half, half a
// positive multiple of 8: out[i] = float32(a*cos[i] - b*sin[i]),
// out[i+half] = float32(b*cos[i+half] + a*sin[i+half]), a = x[i],
// b = x[i+half], each operation rounded as in the scalar code.
TEXT ·ropeHeadsAVX512(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), AX
	MOVQ heads+8(FP), CX
	MOVQ half+16(FP), DX
	MOVQ cos+24(FP), R8
	MOVQ sin+32(FP), R9
	MOVQ out+40(FP), DI
	SHLQ $2, DX // half in bytes of float32

ropeHead:
	XORQ SI, SI // byte offset of float32 element i
	XORQ R10, R10 // byte offset of float64 element i

ropeLoop:
	VCVTPS2PD (AX)(SI*1), Z0 // a
	LEAQ (SI)(DX*1), R11
	VCVTPS2PD (AX)(R11*1), Z1 // b
	LEAQ (R10)(DX*2), R12 // float64 offset of i+half
	VMULPD (R8)(R10*1), Z0, Z2 // a*cos[i]
	VMULPD (R9)(R10*1), Z1, Z3 // b*sin[i]
	VSUBPD Z3, Z2, Z2
	VCVTPD2PS Z2, Y2
	VMOVUPS Y2, (DI)(SI*1)
	VMULPD (R8)(R12*1), Z1, Z4 // b*cos[i+half]
	VMULPD (R9)(R12*1), Z0, Z5 // a*sin[i+half]
	VADDPD Z5, Z4, Z4
	VCVTPD2PS Z4, Y4
	VMOVUPS Y4, (DI)(R11*1)
	ADDQ $32, SI
	ADDQ $64, R10
	CMPQ SI, DX
	JLT ropeLoop
	LEAQ (AX)(DX*2), AX
	LEAQ (DI)(DX*2), DI
	DECQ CX
	JNZ ropeHead
	VZEROUPPER
	RET

// func scaleMaxAVX512(row *float32, n int, s float32) float32
// row[j] *= s (float32) for a positive multiple of 16 n, and returns the
// largest of the scaled values that are not NaN (-Inf when all are).
TEXT ·scaleMaxAVX512(SB), NOSPLIT, $0-28
	MOVQ row+0(FP), AX
	MOVQ n+8(FP), DX
	VBROADCASTSS s+16(FP), Z6
	MOVL $0xff800000, CX // -Inf
	VPBROADCASTD CX, Z5
	SHRQ $4, DX

scaleMaxLoop:
	VMULPS (AX), Z6, Z0
	VMOVUPS Z0, (AX)
	VCMPPS $0, Z0, Z0, K2 // ordered: not NaN
	VMAXPS Z0, Z5, K2, Z5
	ADDQ $64, AX
	DECQ DX
	JNZ scaleMaxLoop
	VEXTRACTF64X4 $1, Z5, Y0
	VMAXPS Y0, Y5, Y5
	VEXTRACTF128 $1, Y5, X0
	VMAXPS X0, X5, X5
	VPERMILPS $0x4e, X5, X0
	VMAXPS X0, X5, X5
	VPERMILPS $0xb1, X5, X0
	VMAXPS X0, X5, X5
	VMOVSS X5, ret+24(FP)
	VZEROUPPER
	RET
